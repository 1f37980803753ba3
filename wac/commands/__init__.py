"""The `wac` subcommands, one module per service; wac/cli.py assembles them."""
