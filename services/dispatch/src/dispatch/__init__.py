"""dispatch service."""
