"""``eldercare eval``: the project's detectors scored on real labelled data sets."""
