"""Gateway process: local subscribe, normalise, local safety rules, disk outbox, uplink."""
