"""The Anthropic SDK versions this instrumentor supports (mirrors the `instruments` extra)."""

_instruments = ("anthropic >= 0.40",)
