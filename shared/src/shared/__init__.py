"""Shared library of the 英德 after-sales services: contracts, Kafka and MongoDB plumbing, HTTP basics.

It never runs on its own; every service imports it and no service imports another.
"""
