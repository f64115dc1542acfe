"""engineering service."""
