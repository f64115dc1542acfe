"""Parts's entrypoints."""
