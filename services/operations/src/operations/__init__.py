"""operations service: the topics as Kafka itself sees them, and the dead letters."""
