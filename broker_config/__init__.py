"""Broker configurations, generated: Mosquitto for the centre and the gateways (TLS,
passwords, the ACL from ``telemetry.topics``, the CA), and the NATS cluster's node
configs and permissions."""
