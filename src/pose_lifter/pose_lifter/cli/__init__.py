"""Command-line tools (docs/cli.md, docs/bags.md)."""
