"""Engineering's entrypoints."""
