"""The page's pure pieces, without a browser: parameters as flags, the trace tree, access, the cache."""

from __future__ import annotations

import argparse
import asyncio
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from decimal import Decimal

import pytest

from costline_processor.config import ConfigError, TaggingConfig
from costline_processor.ledger import open_ledger, open_reader, options, query
from costline_processor.ledger.filters import parse_where
from costline_processor.ui import overview
from costline_processor.ui.access import Access
from costline_processor.ui.app import host_name
from costline_processor.ui.cache import AnswerCache
from costline_processor.ui.questions import Params, question, window_only
from costline_processor.ui.trace_tree import trace_tree
from tests.ledger.factory import make_row, ts

NOW = ts("2026-03-20T12:00")


def params(where=(), **values) -> Params:
    return Params(values, list(where))


@pytest.mark.parametrize(
    ("values", "flags"),
    [
        ({}, {"since": None}),
        ({"since": "7d"}, {"since": "7d"}),
        ({"since": "2026-03-01", "until": "2026-03-10"}, {"since": "2026-03-01", "until": "2026-03-10"}),
        ({"month": "2026-02"}, {"month": "2026-02"}),
        ({"last_month": "1"}, {"last_month": True}),
        ({"mtd": "1"}, {"mtd": True}),
    ],
)
def test_a_period_means_what_its_flag_means(values, flags):
    args = argparse.Namespace(
        **{"since": None, "until": None, "month": None, "last_month": False, "mtd": False, **flags},
        default_since="30d",
    )
    assert params(**values).period(NOW) == options.time_window(args, NOW)


def test_parameters_become_the_reports_question():
    q = question(
        params(["model!=gpt-4o", "feature=a", "feature=b"], by="feature,model", sort="calls"), TaggingConfig(), NOW
    )
    assert q.dims == ("feature", "model") and q.sort == "calls"
    assert q.filters == parse_where(["model!=gpt-4o", "feature=a", "feature=b"])
    assert q.required == ("feature", "customer_id")


@pytest.mark.parametrize(
    "values", [{"by": "feature;drop"}, {"since": "yesterday-ish"}, {"mtd": "1", "month": "2026-01"}, {"limit": "0"}]
)
def test_a_wrong_parameter_is_the_clis_sentence(values):
    with pytest.raises(ConfigError):
        question(params(**values), TaggingConfig(), NOW)


def test_the_trace_tree_adds_up_to_its_rollup():
    rows = [
        make_row("0.25", trace=7, agent_path="research/plan", at="2026-03-02T10:00"),
        make_row("0.125", trace=7, agent_path="research/search", at="2026-03-02T10:01"),
        make_row("0.5", trace=7, agent_path="research/search", at="2026-03-02T10:02"),
        make_row(None, trace=7, agent_path="", at="2026-03-02T10:03"),
    ]
    t = trace_tree(rows[0].trace_id, rows)
    root = t["tree"]
    assert root["cost_usd"] == t["rollup"]["cost_usd"] == Decimal("0.875")
    assert (root["calls"], root["unpriced_calls"]) == (t["rollup"]["calls"], t["rollup"]["unpriced_calls"]) == (4, 1)
    research, no_agent = root["children"]
    assert [c["label"] for c in research["children"]] == ["plan", "search"]
    assert research["children"][1]["cost_usd"] == Decimal("0.625") and research["children"][1]["calls"] == 2
    assert no_agent["label"] == "(no agent)" and no_agent["cost_usd"] == 0 and no_agent["unpriced_calls"] == 1


def test_access_takes_the_token_or_its_session_and_nothing_else():
    a = Access(b"s3cret-token")
    assert a.allows("Bearer s3cret-token", None) and a.allows("bearer  s3cret-token", None)
    assert a.allows(None, a.session()) and a.session() != "s3cret-token"
    assert not a.allows(None, None) and not a.allows("Bearer wrong", "wrong") and not a.allows("Basic s3cret-token", "")
    assert a.accepts(" s3cret-token\n") and not a.accepts("s3cret")
    assert Access(None).allows(None, None)


@pytest.mark.parametrize(
    ("header", "name"),
    [
        ("localhost:4390", "localhost"),
        ("[::1]:4390", "::1"),
        ("127.0.0.1", "127.0.0.1"),
        ("evil.example:80", "evil.example"),
    ],
)
def test_host_names(header, name):
    assert host_name(header) == name


def test_the_cache_asks_once_and_keeps_no_failure():
    clock = [0.0]
    cache = AnswerCache(ttl_s=30, clock=lambda: clock[0])
    asked = []

    async def make(value):
        asked.append(value)
        await asyncio.sleep(0.01)
        return value

    async def failing():
        asked.append("fail")
        raise ConfigError("no")

    async def scenario():
        both = await asyncio.gather(cache.answer("/a", lambda: make(1)), cache.answer("/a", lambda: make(2)))
        assert both == [1, 1]
        clock[0] = 31
        assert await cache.answer("/a", lambda: make(3)) == 3
        for _ in range(2):
            with pytest.raises(ConfigError):
                await cache.answer("/b", failing)

    with ThreadPoolExecutor(1) as thread:  # its own loop: Playwright's sync API may hold this thread's
        thread.submit(asyncio.run, scenario()).result()
    assert asked == [1, 3, "fail", "fail"]


def test_the_top_features_are_top_features_n_10_over_whole_days_and_ties(tmp_path):
    """The panel asks without a LIMIT (so whole days come from the rollup) and keeps ten rows: the rows of
    `top features -n 10` (a LIMIT in the database), ties in cost at the tenth place included (name decides)."""
    costs = ["0.5", "0.25", "0.25", "0.125", "0.125", "0.125", "0.0625", "0.0625", "0.03125", "0.03125", "0.03125"]
    calls = [  # 13 features over four days, the last one partial: a cost per call, a call per day
        make_row(cost, at=f"2026-03-{day:02d}T{10 + i % 8}:00", tags={"feature": f"f{i:02d}", "customer_id": "c"})
        for i, cost in enumerate([*costs, "0.001", "0.002"])
        for day in (16, 17, 18, 20)
    ]
    path = str(tmp_path / "ledger.db")
    w = open_ledger(path, flush_interval_s=0.05)
    w.write(calls)
    w.close(10)
    tagging = TaggingConfig()
    with open_reader(path) as r:
        frame = overview.Frame(window_only(question(params(since="5d"), tagging, NOW, by=None)), NOW, tagging)
        panel = overview.features(r, frame)
        top = query.ask(r, replace(frame.q, dims=("feature",), limit=10))
    assert panel.rows == top.rows and panel.total == top.total
    assert [r["feature"] for r in panel.rows][8:] == ["f08", "f09"]  # f10 costs as much: the name decides
    assert panel.rows[0] == {**panel.rows[0], "feature": "f00", "calls": 4, "cost_usd": Decimal("2.0")}
