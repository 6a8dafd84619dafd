"""The one version source: the package metadata (pyproject.toml reads it), `costline
--version` and the instrumentation scopes all take it from here."""

__version__ = "0.1.0"
