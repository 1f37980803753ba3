"""The services' shared kit: Kafka clients and health, outage log lines, dead letters, metrics."""
