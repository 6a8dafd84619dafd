"""Image tokens are billed at the model's image rates, as audio ones are at audio rates.

Gemini 2.5 Flash Image (ai.google.dev/gemini-api/docs/pricing): input $0.30 per million, image output
"$30 per 1,000,000 tokens", "1290 tokens" for a 1024x1024 image ($0.039), text output at 2.5 Flash's
$2.50. Expected costs are computed here from those figures. Image tokens a model has no image rate
for are billed at its text rate and the call says so (`image_at_text_rate`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from costline_processor import normalize
from costline_processor.config import PricingConfig
from costline_processor.price_caveats import IMAGE_AT_TEXT_RATE, IMAGE_SPLIT_UNKNOWN
from costline_processor.pricing import Pricer
from costline_processor.records import INVALID_USAGE, Cost, ModelCall, Unpriced, Usage

NOV = int(datetime(2026, 11, 1, 12, tzinfo=UTC).timestamp()) * 10**9
M = Decimal(1_000_000)
IMAGE = 1290


@pytest.fixture(scope="module")
def pricer() -> Pricer:
    return Pricer(PricingConfig())


def price(pricer: Pricer, model: str, usage: Usage) -> Cost | Unpriced:
    return pricer.price(ModelCall("semconv", model=model, provider="google", usage=usage), NOV, 10**9)


def test_an_image_costs_the_image_rate_and_its_text_the_text_rate(pricer):
    cost = price(pricer, "gemini-2.5-flash-image", Usage(13, 6 + IMAGE, image_output_tokens=IMAGE))
    assert isinstance(cost, Cost)
    assert cost.total_usd == (13 * Decimal("0.30") + 6 * Decimal("2.50") + IMAGE * Decimal(30)) / M
    assert cost.total_usd == Decimal("0.0387189") and cost.caveat is None
    assert cost.output_usd == (6 * Decimal("2.50") + IMAGE * Decimal(30)) / M  # images stay in output
    assert cost.skus is not None
    skus = {s[0]: s[1:3] for s in cost.skus}
    assert skus["image_output"] == (IMAGE, IMAGE * Decimal(30) / M) and skus["output"][0] == 6
    assert sum(s[2] for s in cost.skus) == cost.total_usd


def test_image_tokens_without_an_image_rate_are_text_and_said(pricer):
    cost = price(pricer, "gemini-2.5-flash", Usage(13, 6 + IMAGE, image_output_tokens=IMAGE))
    assert isinstance(cost, Cost)
    assert cost.total_usd == (13 * Decimal("0.30") + (6 + IMAGE) * Decimal("2.50")) / M
    assert cost.caveat == IMAGE_AT_TEXT_RATE


def test_audio_and_image_together_never_more_than_the_totals(pricer):
    usage = Usage(100, 10, audio_input_tokens=60, image_input_tokens=50)  # 110 of 100 input tokens
    got = price(pricer, "gemini-2.5-flash-image", usage)
    assert isinstance(got, Unpriced) and got.reason == INVALID_USAGE and "image" in got.detail


def test_the_semconv_modality_counts_are_read():
    attrs = {
        "gen_ai.operation.name": "generate_content",
        "gen_ai.provider.name": "gemini",
        "gen_ai.response.model": "gemini-2.5-flash-image",
        "gen_ai.usage.input_tokens": 13,
        "gen_ai.usage.output_tokens": 1296,
        "gen_ai.usage.text.output_tokens": 6,
        "gen_ai.usage.image.output_tokens": IMAGE,
        "gen_ai.usage.image.input_tokens": 4,
    }
    call = normalize.normalize_span(attrs, scope_name="opentelemetry.instrumentation.google_genai")
    assert call is not None and call.usage is not None
    assert (call.usage.image_output_tokens, call.usage.image_input_tokens) == (IMAGE, 4)


def test_served_images_stay_in_the_ledger_reprice_and_focus(tmp_path, capsys):
    """Over OTLP into `costline serve`: the ledger keeps the image subsets (schema 8), `reprice` bills
    them again at the image rate (without them it would bill the image at text: $0.0032, not $0.0387),
    and FOCUS gives them their own meter."""
    import csv
    import io
    import json

    from costline_processor.cli import main
    from costline_processor.ledger import open_reader
    from costline_processor.server import open_sinks
    from tests.fakes.otlp_sink import OtlpSink
    from tests.processor.harness import RunningServer, loopback_config
    from tests.processor.spans import llm, new_trace_id, request
    from tests.processor.test_receive import raw_grpc

    t = new_trace_id()
    image = {"gen_ai__usage__image__output_tokens": IMAGE}
    span = llm(t, None, "gemini-2.5-flash-image", 13, 6 + IMAGE, "gemini", start=NOV, **image)
    with OtlpSink() as sink:
        cfg = loopback_config(sink, trace_wait=0.2)
        cfg.ledger = str(tmp_path / "ledger.db")
        with RunningServer(cfg, sinks=open_sinks(cfg)) as srv:
            raw_grpc(srv.grpc_endpoint, request([span]).SerializeToString())
            sink.wait_for_spans(1)
    with open_reader(cfg.ledger) as r:
        (row,) = list(r.rows())
    assert (row.image_output_tokens, row.cost_usd) == (IMAGE, Decimal("0.0387189"))
    window = ["--since", "2026-11-01", "--until", "2026-12-01", "--ledger", cfg.ledger]
    assert main(["reprice", *window, "--format", "json", "--apply"]) == 0
    out = json.loads(capsys.readouterr().out, parse_float=Decimal)
    assert sum(g["changed_calls"] for g in out) == 0 and sum(g["new_cost_usd"] for g in out) == Decimal("0.0387189")
    assert main(["export", *window]) == 0
    meters = {r["SkuMeter"]: r["ConsumedQuantity"] for r in csv.DictReader(io.StringIO(capsys.readouterr().out))}
    assert meters["Image Output Tokens"] == str(IMAGE)


def test_a_prompt_image_on_a_chat_model_is_input_at_its_rate_unmarked(pricer):
    """Google's one input price is for text, image and video (2.5 Flash: $0.30): no caveat for the images in
    a prompt; OpenAI and Anthropic bill them as input tokens too."""
    cost = price(pricer, "gemini-2.5-flash", Usage(1_300, 6, image_input_tokens=1_290))
    assert isinstance(cost, Cost)
    assert cost.total_usd == (1_300 * Decimal("0.30") + 6 * Decimal("2.50")) / M and cost.caveat is None


def test_cached_audio_without_an_audio_cache_rate_is_said(pricer):
    """gpt-audio lists $32 audio input and no cache rate at all: its cached audio bills as text input ($2.50), and
    the call says so (before, only uncached audio without its rate was marked)."""
    u = Usage(1_000, 10, cache_read_tokens=400, audio_input_tokens=400, audio_cache_read_tokens=400)
    cost = pricer.price(ModelCall("semconv", model="gpt-audio", provider="openai", usage=u), NOV, 10**9)
    assert isinstance(cost, Cost) and cost.caveat == "audio_at_text_rate"


OPENINFERENCE_IMAGE_CALL = {  # what OpenInference google-genai 1.4.14 records for one picture: no image count
    "openinference.span.kind": "LLM",
    "llm.provider": "google",
    "llm.model_name": "gemini-2.5-flash-image",
    "llm.token_count.prompt": 13,
    "llm.token_count.completion": 6 + IMAGE,
}


@pytest.mark.parametrize("model, marked", [("gemini-2.5-flash-image", True), ("gemini-2.5-flash", False)])
def test_an_image_model_call_from_a_span_that_counts_no_images_is_billed_as_text_and_said(pricer, model, marked):
    """OpenInference has no image count: an image's 1,290 tokens are in its completion count. costline cannot
    tell them from text, bills all at the text rate ($0.0032 where the bill is $0.039) and says so; a text
    model's call from the same kind of span is not marked."""
    call = normalize.normalize_span({**OPENINFERENCE_IMAGE_CALL, "llm.model_name": model}, span_name="GenerateContent")
    assert call is not None and call.dialect == "openinference" and call.usage is not None
    cost = pricer.price(call, NOV, 10**9)
    assert isinstance(cost, Cost)
    assert cost.total_usd == (13 * Decimal("0.30") + (6 + IMAGE) * Decimal("2.50")) / M
    assert cost.caveat == (IMAGE_SPLIT_UNKNOWN if marked else None)


def test_an_image_model_call_that_says_its_image_count_is_not_marked(pricer):
    """The same call from a span that splits its output (semconv's gen_ai.usage.image.output_tokens, even 0) is
    billed as it says: a count of images is known, so nothing is said."""
    text_only = price(pricer, "gemini-2.5-flash-image", Usage(13, 6))
    assert isinstance(text_only, Cost) and text_only.caveat is None
    no_output = pricer.price(
        ModelCall("openinference", model="gemini-2.5-flash-image", provider="google", usage=Usage(13, 0)), NOV, 0
    )
    assert isinstance(no_output, Cost) and no_output.caveat is None  # nothing out: no image to miss
