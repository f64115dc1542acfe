"""Engineering's adapters: the MongoDB repositories."""
