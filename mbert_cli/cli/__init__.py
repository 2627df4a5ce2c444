"""The `mbert` command line: thin Typer wiring over the library packages."""
