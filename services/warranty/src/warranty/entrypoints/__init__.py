"""Warranty's entrypoints."""
