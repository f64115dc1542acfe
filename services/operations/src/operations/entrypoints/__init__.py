"""Operations' entrypoints: the HTTP page and API, and the `yingde-ops` command line (operations.cli)."""
