"""The OpenAI SDK versions this instrumentor supports (mirrors the `instruments` extra)."""

_instruments = ("openai >= 1.26",)
