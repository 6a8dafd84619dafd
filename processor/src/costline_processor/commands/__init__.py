"""One module per `costline` subcommand; each exposes `register(subparsers)`."""
