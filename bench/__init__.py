"""Benchmarks and fault injection (make bench, make chaos); run as modules from the repository root."""
