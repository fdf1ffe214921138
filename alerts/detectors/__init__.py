"""Detectors: the one contract (``base``), the bank that drives them, each detector."""
