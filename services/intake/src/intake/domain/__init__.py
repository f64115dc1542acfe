"""Intake's pure domain: channel shapes, normalisation and the category guess. No I/O here."""
