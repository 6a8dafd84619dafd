"""A call to one of OpenAI's Chat Completions search models is marked: its search fee is not in the cost.

gpt-4o-search-preview, gpt-4o-mini-search-preview (and their dated ids) and gpt-5-search-api search the
web on every call and bill a fee per call on top of the tokens. genai-prices 0.2.3 lists their tokens only
(gpt-4o-search-preview $2.50 in, $10 out per million; gpt-4o-mini-search-preview filed under gpt-4o-mini,
$0.15 / $0.60; gpt-5-search-api $1.25 / $10), and OpenAI's current pricing page names no fee for them (its
2025 page: $30 / $35 / $50 per 1,000 calls on gpt-4o-search-preview by search context size, $25 / $27.50 /
$30 on the mini). So costline bills the tokens and says the fee is missing (search_model_fee_unpriced);
before, a gpt-4o-search-preview call of 1,000 tokens in and 200 out cost $0.0045, no caveat, for a bill of
$0.0395 at the 2025 medium rate.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from costline_processor import normalize
from costline_processor.config import PricingConfig
from costline_processor.price_caveats import SEARCH_MODEL_FEE_UNPRICED
from costline_processor.pricing import Pricer
from costline_processor.records import Cost, Usage
from tests.processor.costs import NOV, mtok, priced


@pytest.fixture(scope="module")
def pricer() -> Pricer:
    return Pricer(PricingConfig())


SEARCH_MODELS = [  # (model, input, output per million)
    ("gpt-4o-search-preview", "2.50", "10"),
    ("gpt-4o-search-preview-2025-03-11", "2.50", "10"),
    ("gpt-4o-mini-search-preview", "0.15", "0.60"),
    ("gpt-4o-mini-search-preview-2025-03-11", "0.15", "0.60"),
    ("gpt-5-search-api", "1.25", "10"),
]


@pytest.mark.parametrize("model, r_in, r_out", SEARCH_MODELS)
def test_a_search_model_call_is_billed_its_tokens_and_marked_for_the_fee(pricer, model, r_in, r_out):
    cost = priced(pricer, model, "openai", Usage(1_000, 200))
    assert cost.total_usd == mtok(r_in, 1_000) + mtok(r_out, 200)
    assert cost.caveat == SEARCH_MODEL_FEE_UNPRICED


def test_the_gpt_4o_search_call_to_the_cent_and_below(pricer):
    """$0.0045 of tokens; the 2025 medium fee ($0.035) would make the bill $0.0395."""
    cost = priced(pricer, "gpt-4o-search-preview", "openai", Usage(1_000, 200))
    assert cost.total_usd == Decimal("0.0045") and cost.caveat == SEARCH_MODEL_FEE_UNPRICED


@pytest.mark.parametrize("model", ["gpt-4o-mini", "gpt-4o", "gpt-5", "gpt-4o-mini-2024-07-18"])
def test_the_plain_models_are_not_marked(pricer, model):
    """gpt-4o-mini shares its price sheet with gpt-4o-mini-search-preview; the mark goes by the call's name."""
    priced(pricer, "gpt-4o-mini-search-preview", "openai", Usage(10, 10))  # its card made first
    assert priced(pricer, model, "openai", Usage(1_000, 200)).caveat is None


def test_a_span_from_another_instrumentation_is_marked_by_its_request_model(pricer):
    """A semconv span (OpenLLMetry, the OpenAI SDK's own) names the request model; the response's may be dated."""
    for response_model in ("gpt-4o-mini-search-preview-2025-03-11", None):
        attrs = {
            "gen_ai.provider.name": "openai",
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": "gpt-4o-mini-search-preview",
            "gen_ai.usage.input_tokens": 1_200,
            "gen_ai.usage.output_tokens": 80,
        }
        if response_model:
            attrs["gen_ai.response.model"] = response_model
        call = normalize.normalize_span(attrs, span_name="chat")
        cost = pricer.price(call, NOV, 10**9)
        assert isinstance(cost, Cost), cost
        assert cost.total_usd == mtok("0.15", 1_200) + mtok("0.60", 80)
        assert cost.caveat == SEARCH_MODEL_FEE_UNPRICED


def test_a_routed_search_model_is_marked(pricer):
    """OpenRouter resells the model with the fee (genai-prices lists its tokens only there too)."""
    cost = priced(pricer, "openai/gpt-4o-search-preview", "openrouter", Usage(1_000, 200))
    assert cost.total_usd == mtok("2.50", 1_000) + mtok("10", 200)
    assert cost.caveat == SEARCH_MODEL_FEE_UNPRICED


def test_prices_show_says_the_fee_is_not_listed(capsys):
    from costline_processor.cli import main

    assert main(["prices", "show", "gpt-4o-search-preview", "--provider", "openai", "--at", "2026-11-01"]) == 0
    out = capsys.readouterr().out
    assert f"search fee per call: none listed (caveat {SEARCH_MODEL_FEE_UNPRICED}: https://" in out
    assert main(["prices", "show", "gpt-4o", "--provider", "openai", "--at", "2026-11-01"]) == 0
    assert "search fee per call" not in capsys.readouterr().out


def test_a_price_file_entry_with_a_per_call_fee_bills_it_unmarked(tmp_path):
    """What the README offers until a price is established: the user's fee, e.g. the 2025 medium $0.035."""
    path = tmp_path / "prices.yaml"
    path.write_text(
        "models:\n  - {provider: openai, model: gpt-4o-search-preview, input: 2.50, output: 10, per_call: 0.035}\n"
    )
    cost = priced(Pricer(PricingConfig(prices_file=str(path))), "gpt-4o-search-preview", "openai", Usage(1_000, 200))
    assert cost.total_usd == mtok("2.50", 1_000) + mtok("10", 200) + Decimal("0.035") == Decimal("0.0395")
    assert cost.caveat is None


@pytest.mark.parametrize("entry", ["gpt-4o-search-preview", "gpt-4o-mini"])
def test_a_price_file_entry_of_the_tokens_only_keeps_the_mark(tmp_path, entry):
    """A price file that re-prices a search model's tokens (or the plain model's, which genai-prices files the
    mini under) gives no fee per call: the fee is still missing, and the call still says so."""
    path = tmp_path / "prices.yaml"
    path.write_text(f"models:\n  - {{provider: openai, model: {entry}, input: 0.15, output: 0.6}}\n")
    pricer = Pricer(PricingConfig(prices_file=str(path)))
    searched = priced(
        pricer, "gpt-4o-mini-search-preview" if entry == "gpt-4o-mini" else entry, "openai", Usage(1_000, 200)
    )
    assert searched.total_usd == mtok("0.15", 1_000) + mtok("0.6", 200)
    assert searched.caveat == "search_model_fee_unpriced"
    assert priced(pricer, "gpt-4o-mini", "openai", Usage(1_000, 200)).caveat is None
