"""Contracts between the services: the event envelope, payload models and the topic registry."""
