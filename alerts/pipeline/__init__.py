"""The alert pipeline: small stages, assembled in one place (``build``)."""
