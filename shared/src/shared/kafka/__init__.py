"""Kafka plumbing: topic creation from the registry, the durable publisher, the consumer pattern."""
