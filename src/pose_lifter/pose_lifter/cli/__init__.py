"""Command-line tools (DESIGN §8)."""
