"""Real services on free loopback ports for tests, benchmarks and the demo (Mosquitto,
the embedded amqtt broker, Kannel with fakesmsc, InfluxDB, PostgreSQL, a NATS cluster,
a stalling TCP proxy), each started and stopped by PID through ``harness.process``. A
tool: no product package imports it, and it is not in the product's wheel."""
