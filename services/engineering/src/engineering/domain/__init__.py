"""Engineering's pure rules: the project and its gates, installation complaints, periods. No I/O."""
