"""The version costline's instrumentation scopes report."""

__version__ = "0.1.0"
