"""The console's ways out: one HTTP client per service, and the Kafka live feed."""
