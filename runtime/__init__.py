"""What a running process needs around the message model: how it reaches a broker (one
place that builds an MQTT client), the store writer's group commit, the retry policies,
the operators' port, secret files, the limits both broker ends agree on, logging, the
stop on a signal and the project's one exception root. Threads, sockets and files live
here, not in ``telemetry``."""
