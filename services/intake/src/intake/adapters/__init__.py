"""Intake's adapters: the submission store (MongoDB) and the event publisher (Kafka)."""
