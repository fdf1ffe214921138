"""The ``eldercare`` command."""
