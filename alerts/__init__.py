"""Detectors, alert lifecycle, escalation, notification outbox and notifiers."""
