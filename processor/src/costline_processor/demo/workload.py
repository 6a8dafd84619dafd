"""The demo app: a small AI assistant with three features, a few customers and an agent.

Run it under the standard launcher, as a user would:

    opentelemetry-instrument python -m costline_processor.demo.workload --requests 60

It uses only the public costline API (`costline.attribution`, `costline.step`) and
the real `openai` and `anthropic` SDKs, pointed at the fake provider by
OPENAI_BASE_URL / ANTHROPIC_BASE_URL. Deterministic (seeded), so the numbers repeat.
"""

from __future__ import annotations

import argparse
import random
import sys

import anthropic
import openai
from anthropic.types import TextBlockParam
from opentelemetry import trace

import costline

CUSTOMERS = [("acme", "enterprise"), ("globex", "pro"), ("initech", "pro"), ("umbrella", "free"), ("hooli", "free")]
FEATURES = ("search", "support", "summaries", "research-agent")
_tracer = trace.get_tracer("costline.demo")


def search(oa: openai.OpenAI, query: str) -> None:
    oa.embeddings.create(model="text-embedding-3-small", input=[query])
    oa.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": f"rank results for {query}"}])


def support(an: anthropic.Anthropic, question: str) -> None:
    system: list[TextBlockParam] = [
        {
            "type": "text",
            "text": "You are a support agent. " + "Policy text. " * 40,
            "cache_control": {"type": "ephemeral"},
        }
    ]
    an.messages.create(
        model="claude-sonnet-4-5", max_tokens=300, system=system, messages=[{"role": "user", "content": question}]
    )


def summaries(oa: openai.OpenAI, doc: str) -> None:
    stream = oa.responses.create(model="gpt-4o", input=f"summarise: {doc}", stream=True)
    for _ in stream:
        pass


def research_agent(oa: openai.OpenAI, an: anthropic.Anthropic, topic: str) -> None:
    with costline.step("research"):
        with costline.step("plan"):
            oa.chat.completions.create(
                model="gpt-4o", messages=[{"role": "user", "content": f"plan research on {topic}"}]
            )
        for source in ("web", "wiki"):
            with costline.step(f"search_{source}"):
                oa.embeddings.create(model="text-embedding-3-small", input=[f"{topic} {source}"])
        with (
            costline.step("write"),
            an.messages.stream(
                model="claude-haiku-4-5",
                max_tokens=500,
                messages=[{"role": "user", "content": f"write a report on {topic}"}],
            ) as s,
        ):
            for _ in s.text_stream:
                pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    oa = openai.OpenAI(max_retries=0)
    an = anthropic.Anthropic(max_retries=0)
    for i in range(args.requests):
        feature = FEATURES[i % len(FEATURES)]
        customer, plan = rng.choice(CUSTOMERS)
        user = f"{customer}-u{rng.randrange(4)}"
        tags = {
            "feature": feature,
            "customer_id": customer,
            "plan": plan,
            "user_id": user,
            "session_id": f"{user}-s{i // 20}",  # a trace UI's Sessions page groups by it (docs/deploy.md)
            "team": "assistant",
            "environment": "demo",
        }
        if i % 10 == 9:  # some traffic arrives untagged: it lands in the untagged bucket
            tags = {"feature": feature}
        if rng.random() < 0.4:
            tags["outcome"] = "accepted"
        # a question plus the retrieved context a real app would send along
        words = " ".join(
            rng.choice(("invoice", "refund", "latency", "pricing", "export", "audit"))
            for _ in range(rng.randrange(200, 3000))
        )
        with (
            costline.attribution(**tags),
            _tracer.start_as_current_span(f"POST /{feature}", kind=trace.SpanKind.SERVER),
        ):
            if feature == "search":
                search(oa, words)
            elif feature == "support":
                support(an, words)
            elif feature == "summaries":
                summaries(oa, words)
            else:
                research_agent(oa, an, words)
        print(f"\r  app: {i + 1}/{args.requests} requests", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
