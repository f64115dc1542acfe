"""The console's pages (server-rendered, Jinja2) and its live stream."""
