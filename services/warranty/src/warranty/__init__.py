"""warranty service."""
