"""The store: results from Kafka into PostgreSQL, exactly once."""
