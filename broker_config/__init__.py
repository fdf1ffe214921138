"""Mosquitto configurations for the centre and the gateways, and a local broker runner."""
