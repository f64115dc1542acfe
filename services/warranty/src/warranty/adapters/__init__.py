"""Warranty's adapters: MongoDB records of units, projects and cases."""
