"""A model call whose parent span never reaches costline: the step between the request's root
span and the call is sampled out (a sampler that drops it by name; its children are still
sampled, as a non-parent-based sampler does). The tags are attributes of the root span only,
not baggage, so the call can only get them from the root of its trace."""

from __future__ import annotations

import anthropic
import otel_setup
from opentelemetry.sdk.trace.sampling import Decision, Sampler, SamplingResult


class DropStep(Sampler):
    def should_sample(self, parent_context, trace_id, name, kind=None, attributes=None, links=None, trace_state=None):
        if name == "retrieve (sampled out)":
            return SamplingResult(Decision.DROP)
        return SamplingResult(Decision.RECORD_AND_SAMPLE, attributes)

    def get_description(self) -> str:
        return "DropStep"


provider = otel_setup.start("orphan-app", sampler=DropStep())
client = anthropic.Anthropic(base_url=otel_setup.BASE, api_key="k", max_retries=0)
tracer = provider.get_tracer("app")
root_tags = {f"costline.{k}": v for k, v in otel_setup.TAGS.items()}

with tracer.start_as_current_span("POST /chat", attributes=root_tags):
    with tracer.start_as_current_span("retrieve (sampled out)"):
        client.messages.create(
            model="claude-sonnet-4-5", max_tokens=64, messages=[{"role": "user", "content": "one two three"}]
        )
provider.shutdown()
