"""notifications service."""
