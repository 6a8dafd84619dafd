"""An app with the real OpenAI SDK tags calls with two customers (equal shares, then weights), sends its
spans to a real costline server over OTLP, and `costline report --by customer_id` over the ledger shows
each customer's share to the cent: the amounts below come from OpenAI's published gpt-4o price and the
fake provider's token rule, not from costline's pricing."""

from __future__ import annotations

import csv
import io
import time
from decimal import Decimal as D

import openai

import costline
from costline.instrumentation import configurator
from costline.instrumentation.openai import OpenAIInstrumentor
from costline_processor.cli import main
from costline_processor.demo.fake_provider import FakeProvider
from costline_processor.ledger import open_reader
from costline_processor.server import open_sinks
from tests.fakes.otlp_sink import OtlpSink
from tests.processor.harness import RunningServer, loopback_config, sdk_tracer

M = D(1_000_000)
GPT_4O_IN, GPT_4O_CACHED, GPT_4O_OUT = D("2.50"), D("1.25"), D("10")  # USD per million tokens, OpenAI's page
WORDS = 40_000  # the fake provider: 10 + (words in the prompt) input tokens, of which (words) cached; 6 output


def _call_cost() -> D:
    return (10 * GPT_4O_IN + WORDS * GPT_4O_CACHED + 6 * GPT_4O_OUT) / M  # $0.050085


def _run_app(fake: FakeProvider, endpoint: str) -> None:
    provider = sdk_tracer(endpoint, service="digest-app")
    configurator.install(provider)
    configurator.uninstall()  # keep the span processor, not the global propagator wrap
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    try:
        client = openai.OpenAI(base_url=fake.openai_base_url, api_key="k", max_retries=0)
        prompt = [{"role": "user", "content": " ".join(["word"] * WORDS)}]
        with costline.attribution(feature="meeting-summary", customer_id=["acme", "globex"]):
            client.chat.completions.create(model="gpt-4o", messages=prompt)
        with costline.attribution(feature="meeting-summary", customer_id={"acme": 3, "globex": 1}):
            client.chat.completions.create(model="gpt-4o", messages=prompt)
    finally:
        instrumentor.uninstrument()
        provider.shutdown()


def test_an_app_splits_a_call_between_two_customers(tmp_path, capsys):
    ledger = str(tmp_path / "ledger.db")
    with FakeProvider(response_models={"gpt-4o": "gpt-4o-2024-08-06"}) as fake, OtlpSink() as sink:
        cfg = loopback_config(sink, trace_wait=0.1)
        cfg.ledger = ledger
        with RunningServer(cfg, sinks=open_sinks(cfg)) as srv:
            _run_app(fake, srv.grpc_endpoint)
            sink.wait_for_spans(2)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with open_reader(ledger) as r:
                if len(list(r.rows())) == 2:
                    break
            time.sleep(0.1)
    cost = _call_cost()
    acme = cost / 2 + cost * 3 / 4  # $0.0250425 + $0.03756375
    globex = cost / 2 + cost / 4
    assert main(["report", "--by", "customer_id", "--since", "1d", "--format", "csv", "--ledger", ledger]) == 0
    rows = {r["customer_id"]: r for r in csv.DictReader(io.StringIO(capsys.readouterr().out))}
    assert {k: D(r["cost_usd"]) for k, r in rows.items()} == {"acme": acme, "globex": globex}
    assert {k: int(r["calls"]) for k, r in rows.items()} == {"acme": 2, "globex": 2}
    assert main(["report", "--by", "customer_id", "--since", "1d", "--ledger", ledger]) == 0
    table = capsys.readouterr().out
    assert f"${acme:.4f}" in table and f"${globex:.4f}" in table  # $0.0626, $0.0376
    assert f"total: ${2 * cost:.2f} over 2 calls" in table  # $0.10
    assert round(acme, 2) == D("0.06") and round(globex, 2) == D("0.04")
