"""Demo support: a fake LLM provider that speaks the OpenAI and Anthropic wire formats.

`fake_provider.FakeProvider` serves deterministic answers (usage derived from the
request) over loopback, for tests, benchmarks and `costline demo`. Standard library only.
"""
