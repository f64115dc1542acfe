"""Dispatch's pure domain: the case and its state machine, routing, time targets, statistics."""
