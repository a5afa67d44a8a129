"""Command-line interface. Each module here with a ``register(subparsers)`` adds sub-commands."""
