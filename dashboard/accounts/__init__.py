"""Desk accounts: the model (roles, sessions), the sign-in throttle, the store."""
