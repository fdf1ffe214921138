"""Simulated devices, residents and fleets that behave like the real ones."""
