"""The uplink to the central broker: the session (``session.Uplink``, its thread and
connection) and what it sends (``sender.Sender``)."""
