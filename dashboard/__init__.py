"""Duty-desk web app: auth, REST API, live push, the page."""
