"""console service."""
