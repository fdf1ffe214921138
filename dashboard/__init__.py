"""The duty-desk dashboard: FastAPI app, accounts with roles, REST API, live push, page."""
