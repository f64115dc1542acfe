"""Test support: real backends for a session, unique topics/databases per test, Kafka readers."""
