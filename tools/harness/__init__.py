"""Real services on free loopback ports for tests, benchmarks and the demo (Mosquitto,
the embedded amqtt broker, Kannel with fakesmsc, InfluxDB), each started and stopped by
PID through ``harness.process``. No product package imports this one."""
