"""Central consumer: decode, validate, dead-letter, dedup, hand to alerts, batched store."""
