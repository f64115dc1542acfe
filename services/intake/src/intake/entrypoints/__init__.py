"""Intake's entrypoints: the HTTP API, the public complaint page and the QR codes."""
