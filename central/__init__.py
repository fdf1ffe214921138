"""The central process: ingest, the alert core and the dashboard, assembled in one place."""
