"""The monitor: targets on a schedule, checked by the probers, results published to Kafka."""
