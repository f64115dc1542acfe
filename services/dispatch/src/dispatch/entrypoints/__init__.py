"""Dispatch's entrypoints."""
