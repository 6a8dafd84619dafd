"""SQLite and PostgreSQL give the same answer, byte for byte, to every read command over the same calls.

One set of calls, chosen to be awkward (hostile and non-ASCII tag values in mixed case, values that look
like numbers or JSON, empty values and the untagged label, calls shared among owners, unpriced calls,
price caveats and tiers, costs SQLite has no femto count for, negative and zero costs, calls on UTC
day, week, month and year edges), is written into a SQLite ledger (read with its per-day rollup and
without) and into a PostgreSQL database whose locale collates otherwise than code points (ICU en-US:
"alpha" before "Zeta"), and read from the SQLite ledger's columnar copy in DuckDB (the page's, columnar.py;
the CLI reads through it here too, so that every command's SQL runs on it). Then every read command runs through `costline_processor.cli.main` in each
format it has, and the Overview's panels and the page's questions through the UI's API: the outputs
must be identical apart from the ledger's location. A report that answers differently depending on
the database is a silent wrong number; the answers are also checked against this test's own sums.

By design, and so compared otherwise: `explain` splits a call's cost by token type in SQLite from doubles,
exact up to 15 decimals under $9 and close beyond (explanation._micro), so it is compared byte for byte
over those calls and to 1e-12 over every call. Not covered, documented as close: SQLite orders groups by
cost for a LIMIT from doubles where a cost has no femto count (dialect.money_order), so two such groups
tied to the last digit may be kept in another order than PostgreSQL's; and SQLite 3.40 reads some decimal
texts of more than ~16 digits into a double one step off the nearest (DuckDB's are the nearest), so the
columnar copy may keep such a group where SQLite keeps its neighbour, as PostgreSQL may (test_columnar_property
keeps to costs where both read the same double).
"""

from __future__ import annotations

import asyncio
import csv
import difflib
import io
import json
import random
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Context
from decimal import Decimal as D

import pytest

from costline_processor.cli import main
from costline_processor.ledger import open_ledger, open_reader, options, rollup
from costline_processor.ledger.columnar import ColumnarCopy
from costline_processor.ui import overview
from tests.ledger.conftest import icu_en_us
from tests.ledger.factory import NS, make_row, ts

NOW = "2026-03-05T12:00"  # a Thursday; the ISO week began on Monday 2026-03-02
EVERYTHING = ["--since", "2025-12-01", "--until", "2026-04-01"]
HOSTILE = "x'); DROP TABLE costline_calls; --"
FORMULA = '=HYPERLINK("http://x","y")'
CUSTOMERS = [
    "acme", "Acme", "ACME", "alpha", "Alpha", "Zeta", "zeta", "Éclair", "eclair", "éclair", "Ölfeld", "ß", "SS",
    "日本", "🙂", "a b", " acme", "acme ", "tab\there", "O'Brien", 'say "hi"', "a,b", "a|b", HOSTILE, FORMULA,
    "a\x00b", "123", "0123", "1e3", "-1", "1.50", "true", "null", '{"a":1}', '["acme"]', '["x","x"]', "", "untagged",
    '["acme","globex"]', '{"acme":3,"Globex":1}', '["untagged","zeta"]', '["Zeta","alpha","Éclair"]',
]  # fmt: skip
FEATURES = ["chat", "Chat", "search", "summarize", "", "untagged", "日本語", HOSTILE, '["chat","search"]', None]
MODELS = [
    ("gpt-4o", "openai"), ("gpt-4o-mini", "openai"), ("GPT-4o", "openai"), ("claude-sonnet-4-5", "anthropic"),
    ("claude-haiku-4-5", "anthropic"), (None, None), ("", ""), ("mistral-large-2411", "mistral"),
]  # fmt: skip
COSTS = [
    None, "0", "0.00", "-0.01", "0.50", "0.5", "1E-7", "0.0000001", "0.000000000000001", "0.1234567890123456789",
    "12000.25", "9223.372036854775807", "9223.372036854775808", "1E+3", "0.0125", "0.003085", "1.5", "2.10",
    "-12000.000000000000000001", "0E-10", "33.333333333333333",
    # GPU-hour prices (price_rules: gpu_hour / 3600 per second) give costs of 28 significant digits
    "0.0008573388131944444444444444444", "1714.321428571428571428571429", "1.124828533374083333333333333",
]  # fmt: skip
CAVEATS = [None, None, None, "tier_by_rule:batch", "tier_unpriced:flex", "long_context", "tier_by_rule:priority"]
TIERS = ["", "", "batch", "priority", "flex", None]
AGENTS = ["", "research/search", "support", "Support", "日本/エージェント"]
SERVICES = ["api", "worker", "Worker", "ßervice"]
EDGES = [  # UTC day, week, month and year edges, to the nanosecond
    "2025-12-31T23:59:59.999999999", "2026-01-01T00:00:00", "2025-12-28T23:59:59.999999999", "2025-12-29T00:00:00",
    "2026-02-28T23:59:59.999999999", "2026-03-01T00:00:00", "2026-03-01T23:59:59.999999999", "2026-03-02T00:00:00",
    "2026-03-05T00:00:00", "2026-03-05T11:59:59.999999999", "2026-03-05T12:00:00", "2026-02-01T00:00:00",
    "2026-01-31T23:59:59.999999999",
]  # fmt: skip


def at_ns(text: str) -> int:
    whole, _, frac = text.partition(".")
    seconds = int(datetime.fromisoformat(whole).replace(tzinfo=UTC).timestamp())
    return seconds * NS + int((frac or "0").ljust(9, "0"))


def calls(n: int = 420, seed: int = 7) -> list:
    r = random.Random(seed)
    start = datetime(2025, 12, 26, tzinfo=UTC)
    span = int((datetime.fromisoformat(NOW).replace(tzinfo=UTC) - start).total_seconds())
    out = []
    trace = 0
    while len(out) < n:
        trace += 1
        if len(out) < len(EDGES):
            start_ns = at_ns(EDGES[len(out)])
        else:
            start_ns = (int(start.timestamp()) + r.randrange(span)) * NS + r.randrange(NS)
        tags = {
            "feature": r.choice(FEATURES),
            "customer_id": r.choice([*CUSTOMERS, None]),
            "user_id": r.choice(["u1", "U1", "u2", "ü3", "", None, "untagged"]),
            "session_id": f"s{trace % 9}",
            "outcome": r.choice([None, None, "accepted", "rejected", "Accepted"]),
            "plan": r.choice(["free", "Pro", "pro", "énterprise", None]),
            "客户": r.choice(["甲", "乙", "Zeta", "alpha", None]),
            "team-name.x": r.choice(["core", "Core", None]),
            "te\x00am": r.choice(["x\x00", None, None, None]),  # stored with U+FFFD for the NUL (schema.to_params)
        }
        tags = {k: v for k, v in tags.items() if v is not None}
        for c in range(r.randint(1, 3)):
            model, provider = r.choice(MODELS)
            cost = r.choice(COSTS)
            tokens = (r.randrange(0, 200_000), r.randrange(0, 9_000), r.randrange(0, 5_000), r.randrange(0, 900), 0)
            row = make_row(
                cost,
                trace=trace,
                tags=tags,
                model=model,
                provider=provider,
                agent_path=r.choice(AGENTS),
                service=r.choice(SERVICES),
                tokens=tokens,
                list_cost=None if cost is None or r.random() < 0.7 else str(D(cost) * 2),
            )
            at = start_ns + c * 1_000  # calls of a trace a microsecond apart
            row = replace(row, start_unix_nano=at, end_unix_nano=at + 700_000_000)
            if cost is not None:
                row.price_caveat = r.choice(CAVEATS)
            row.tier = r.choice(TIERS)
            if cost is None and r.random() < 0.3:
                row.status = "no_usage"
            row.tags["split"] = "exact" if explained_exactly(cost) else "close"
            out.append(row)
    ties = {  # over $9,223 a group, a thousandth of a nano-dollar apart or tied: a LIMIT by cost keeps the costlier
        "tie_a_less": ["5000.000000000001", "5000.000000000001"],
        "tie_b_more": ["5000.000000000001", "5000.000000000002"],
        "tie_c_same": ["4999.9999995", "5000", "0.000000500003"],  # as tie_b_more (its remainders carry a micro)
    }
    for name, costs in ties.items():
        for cost in costs:
            row = make_row(
                cost, at="2026-03-03T08:00", tags={"customer_id": name, "客户": name, "plan": "tie", "split": "exact"}
            )
            out.append(row)
    return out


def explained_exactly(cost: str | None) -> bool:
    """Whether `explain` splits a call of this cost exactly in SQLite (explanation._micro: up to 15 decimals, under
    $9), so that its answer is PostgreSQL's to the last digit; beyond, it is close (by design, documented there)."""
    return cost is None or (abs(D(cost)) < 9 and D(cost).as_tuple().exponent >= -15)


CALLS = calls()
INVOICE = """date,model,cost_usd
2026-03-01,gpt-4o,1.25
2026-03-01,GPT-4o,0.50
2026-03-02,claude-sonnet-4-5,12000
2026-03-03,gpt-4o-mini,0.000001
2026-03-04,mistral-large-2411,3
"""
PRICES = """models:
  - model: gpt-4o
    input: 2.5
    cache_read: 1.25
    output: 10
  - model: claude-sonnet-4-5
    input: 3
    cache_read: 0.3
    cache_write: 3.75
    output: 15
  - model: mistral-large-2411
    input: 2.000000001
    output: 6
"""
CONFIG = """
tagging:
  required: [feature, customer_id]
  owner: "Platform Team"
budgets:
  - scope: {feature: search}
    period: month
    amount_usd: 2
  - name: each customer daily
    scope: {customer_id: "*"}
    period: day
    amount_usd: 0.25
    warn_at: [0.5]
  - name: every feature weekly
    scope: {feature: "*"}
    period: week
    amount_usd: 100
  - name: everything
    period: month
    amount_usd: 1000
"""


@pytest.fixture(scope="module")
def ledgers(pg_server, tmp_path_factory):
    """The same calls in SQLite and in an ICU en-US PostgreSQL database; the config, invoice and price files."""
    tmp = tmp_path_factory.mktemp("engines")
    with icu_en_us(pg_server) as pg_url:
        urls = {"sqlite": str(tmp / "ledger.db"), "postgresql": pg_url}
        for url in urls.values():
            w = open_ledger(url, flush_interval_s=0.05)
            w.write(CALLS)
            w.close(10)
            assert w.dropped == 0
        files = {}
        for key, text in (("config", CONFIG), ("invoice", INVOICE), ("prices", PRICES)):
            (tmp / key).write_text(text)
            files[key] = str(tmp / key)
        copy = ColumnarCopy(urls["sqlite"])
        copy.load()
        yield urls, files, copy
        copy.close()


@pytest.fixture(autouse=True)
def clock(monkeypatch):
    monkeypatch.setattr(options, "now_ns", lambda: ts(NOW))
    monkeypatch.delenv("COSTLINE_CONFIG", raising=False)
    monkeypatch.delenv("COSTLINE_LEDGER", raising=False)


class Engines:
    """Runs commands on every engine (SQLite with its rollup and without, PostgreSQL) and keeps what differed."""

    def __init__(self, ledgers, capsys, monkeypatch):
        self.urls, self.files, self.copy = ledgers
        self.capsys, self.monkeypatch = capsys, monkeypatch
        self.differences: list[str] = []
        self.columnar: ColumnarCopy | None = None  # the copy, while the engine is the columnar copy (test_page)

    def each(self, work) -> dict[str, object]:
        """`work(url)` in each engine: {engine: what it gave}."""
        out = {"sqlite": work(self.urls["sqlite"])}
        self.monkeypatch.setattr(rollup, "ENABLED", False)
        out["sqlite without rollup"] = work(self.urls["sqlite"])
        self.monkeypatch.setattr(rollup, "ENABLED", True)
        out["postgresql"] = work(self.urls["postgresql"])
        with self.monkeypatch.context() as m:
            m.setattr(options, "open_reader", self._columnar_reader)
            self.columnar = self.copy
            try:
                out["duckdb (columnar copy)"] = work(self.urls["sqlite"])
            finally:
                self.columnar = None
        return out

    def _columnar_reader(self, location: str, create: bool = False):
        """A reader of the columnar copy (the rollup's questions still in SQLite, as on the page)."""
        assert location == self.urls["sqlite"] and not create
        reader = self.copy.reader(open_reader(location))
        assert reader is not None, "the columnar copy is not ready"
        return reader

    def cli(self, argv: list[str]) -> tuple[int, str, str]:
        """`costline ARGV --ledger URL` in each engine: the same exit code, stdout and stderr (the URL aside)."""
        argv = [self.files.get(a[1:], a) if a.startswith("@") else a for a in argv]

        def run(url: str) -> tuple[int, str, str]:
            code = main([*argv, "--ledger", url])
            out, err = self.capsys.readouterr()
            return code, out.replace(url, "<ledger>"), err.replace(url, "<ledger>")

        got = self.each(run)
        self.same(" ".join(a for a in argv if a not in self.files.values()), got)
        return got["sqlite"]  # type: ignore[return-value]

    def same(self, what: str, got: dict[str, object]) -> None:
        first = got["sqlite"]
        for engine, answer in got.items():
            if answer != first:
                self.differences.append(f"{engine} and sqlite: {what}\n{difference(first, answer)}")

    def check(self) -> None:
        """Every command answered alike in every engine (all the differences listed, the first few shown)."""
        if self.differences:
            heads = "\n".join(d.splitlines()[0] for d in self.differences)
            pytest.fail(f"{len(self.differences)} differ:\n{heads}\n\n" + "\n\n".join(self.differences[:4]))


@pytest.fixture
def engines(ledgers, capsys, monkeypatch):
    """Each test runs its commands, then `engines.check()`: one failure listing every command that differed."""
    return Engines(ledgers, capsys, monkeypatch)


def difference(a, b) -> str:
    """The lines where two outputs (exit, stdout, stderr) or two answers (status, body) differ."""
    a, b = (x if isinstance(x, tuple) else (x,) for x in (a, b))
    lines = []
    for i, (x, y) in enumerate(zip(a, b)):
        if x == y:
            continue
        if not isinstance(x, str) or not isinstance(y, str):
            lines.append(f"[{i}] {x!r} != {y!r}")
            continue
        lines += [f"[{i}]:", *list(difflib.unified_diff(x.splitlines(), y.splitlines(), lineterm="", n=1))[2:40]]
    return "\n".join(lines)


FORMATS = ("table", "csv", "json")
CONFIG_ARGS = ["--config", "@config"]
REPORTS = [
    *(["--by", by] for by in ["feature", "customer_id", "model", "provider", "agent", "service", "operation"]),
    *(["--by", by] for by in ["status", "caveat", "day", "week", "month", "user_id", "session_id", "客户"]),
    *(["--by", by] for by in ["team-name.x", "costline.plan", "trace"]),
    ["--by", "feature,customer_id"],
    ["--by", "customer_id,model"],
    ["--by", "week,customer_id"],
    ["--by", "month,feature", "--sort", "cost"],
    ["--by", "day,customer_id", "--limit", "7"],
    ["--by", "customer_id", "--sort", "customer_id"],
    ["--by", "customer_id", "--sort", "customer_id", "--limit", "5"],
    ["--by", "customer_id", "--limit", "6"],
    ["--by", "customer_id", "--sort", "calls", "--limit", "4"],
    ["--by", "customer_id", "--sort", "avg_cost_usd"],
    ["--by", "customer_id", "--sort", "input_tokens", "--limit", "3"],
    ["--by", "feature", "--sort", "share"],
    ["--by", "model", "--sort", "model", "--limit", "3"],
    ["--by", "agent,service", "--sort", "agent"],
    ["--by", "客户,plan", "--sort", "客户", "--limit", "4"],
    ["--by", "客户", "--where", "plan=tie", "--limit", "1"],  # a tie the LIMIT breaks in the database
    ["--by", "客户", "--where", "plan=tie", "--limit", "2"],
    ["--by", "customer_id", "--where", "customer_id=acme"],
    ["--by", "customer_id", "--where", "customer_id=Acme", "--where", "customer_id=zeta"],
    ["--by", "feature", "--where", "customer_id!=acme"],
    ["--by", "feature", "--where", "customer_id=untagged"],
    ["--by", "customer_id", "--where", "feature=untagged"],
    ["--by", "customer_id", "--where", "customer_id=Éclair", "--where", "customer_id=日本"],
    ["--by", "feature", "--where", f"customer_id={HOSTILE}"],
    ["--by", "feature", "--where", "customer_id=123", "--where", "customer_id=null"],
    ["--by", "plan", "--where", "客户=甲", "--where", "te\ufffdam=x\ufffd"],
    ["--by", "model", "--where", "model=GPT-4o"],
    ["--by", "model", "--where", "model=unknown"],
    ["--by", "provider", "--where", "agent=(no agent)"],
    ["--by", "customer_id", "--where", "feature!=chat", "--where", "model!=gpt-4o", "--limit", "5"],
    ["--by", "customer_id", "--where", "customer_id=globex", "--where", "customer_id=Globex"],
    ["--by", "feature", "--compare"],
    ["--by", "customer_id", "--compare", "--sort", "change_usd"],
    ["--by", "feature", "--per-user"],
    ["--by", "plan", "--per-user", "--sort", "users"],
    ["--by", "week", "--per-user", "--user-tag", "session_id"],
    ["--by", "feature", "--outcome", "accepted,Accepted"],
    ["--by", "customer_id", "--outcome", "accepted", "--sort", "cost_per_outcome"],
    ["--untagged"],
    ["--by", "feature", "--untagged"],
    ["--by", "customer_id", "--allocate-untagged"],
    ["--by", "feature,model", "--allocate-untagged", "feature"],
    ["--by", "feature", "--forecast"],
    ["--by", "customer_id", "--forecast", "week", "--limit", "5"],
    ["--by", "day", "--forecast"],
    # a tag no call has: refused, naming the tags there (read from the rollup's whole days and the calls' edges)
    ["--by", "custmer_id"],
    ["--by", "feature", "--where", "tem=x"],
]
WINDOWS = [
    EVERYTHING,
    ["--since", "2026-02-28T12:30", "--until", "2026-03-02T06:00"],  # partial days at both ends
    ["--month", "2026-02"],
    ["--mtd"],
    ["--last-month"],
]


@pytest.mark.parametrize("fmt", FORMATS)
def test_report(engines, fmt):
    for window in WINDOWS:
        for argv in REPORTS:
            if window is not EVERYTHING and "--compare" not in argv and argv[1:2] != ["feature"]:
                continue  # the other windows: the questions by feature, and --compare (the previous period)
            engines.cli(["report", *argv, *window, *CONFIG_ARGS, "--format", fmt])
    engines.check()


TOPS = [
    ["customers"],
    ["customers", "-n", "3"],
    ["customers", "--sort", "calls"],
    ["customers", "--where", "feature=chat"],
    ["客户", "-n", "1", "--where", "plan=tie"],
    ["users"],
    ["features", "-n", "2"],
    ["teams"],
    ["models"],
    ["providers"],
    ["agents"],
    ["sessions"],
    ["traces"],
    ["traces", "-n", "25"],
    ["traces", "--where", "customer_id=acme"],
    ["calls"],
    ["calls", "-n", "40"],
    ["calls", "--where", "customer_id=globex"],
    ["plan"],
    ["客户"],
    ["customers", "--allocate-untagged"],
]


@pytest.mark.parametrize("fmt", FORMATS)
def test_top(engines, fmt):
    for window in (EVERYTHING, ["--month", "2026-02"]):
        for argv in TOPS:
            engines.cli(["top", *argv, *window, *CONFIG_ARGS, "--format", fmt])
    engines.check()


@pytest.mark.parametrize("fmt", FORMATS)
def test_trace(engines, fmt):
    traces = sorted({c.trace_id for c in CALLS})
    shared = [c.trace_id for c in CALLS if c.tags.get("customer_id", "").startswith(("[", "{"))]
    for trace_id in [*traces[:12], *shared[:6], "f" * 32]:
        engines.cli(["trace", trace_id, *CONFIG_ARGS, "--format", fmt])
    engines.check()


EXPLAINS = [
    ["--since", "2026-02-26", "--until", "2026-03-05"],
    ["--month", "2026-02", "--by", "customer_id"],
    ["--month", "2026-02", "--against", "2026-01", "--by", "model"],
    ["--since", "2026-02-19", "--until", "2026-03-05", "--against", "2026-01-15..2026-02-19", "--by", "feature,model"],
    ["--month", "2026-03", "--by", "customer_id", "--limit", "4"],
    ["--month", "2026-02", "--by", "agent", "--where", "customer_id!=acme"],
    ["--month", "2026-02", "--by", "plan", "--where", "feature=chat"],
]


@pytest.mark.parametrize("fmt", FORMATS)
def test_explain(engines, fmt):
    """Byte for byte over the calls whose cost split SQLite sums exactly (explanation._micro: up to 15 decimals,
    under $9); the others are summed close, so over every call the figures agree to 1e-12 (test_explain_close)."""
    for argv in EXPLAINS:
        engines.cli(["explain", *argv, "--where", "split=exact", *CONFIG_ARGS, "--format", fmt])
    engines.check()


def test_explain_close(engines):
    """Over every call, costs with more than 15 decimals or over $9 too: the same rows and words, every figure
    within 1e-12 USD (SQLite rounds each such call's split to the femto-dollar as a double: by design)."""
    for argv in EXPLAINS:
        got = engines.each(lambda url: explained(engines, ["explain", *argv, *CONFIG_ARGS, "--ledger", url]))
        engines.same(" ".join(["explain", *argv]), got)
    engines.check()


def explained(engines: Engines, argv: list[str]):
    code = main([*argv, "--format", "json"])
    out, err = engines.capsys.readouterr()
    return code, err, close_figures(json.loads(out, parse_float=D) if out else None)


def close_figures(value):
    """`value` with every figure rounded to 1e-12 (and -0 made 0), to compare what is close by design."""
    if isinstance(value, dict):
        return {k: close_figures(v) for k, v in value.items()}
    if isinstance(value, list):
        return [close_figures(v) for v in value]
    if isinstance(value, D | int) and not isinstance(value, bool):
        return D(value).quantize(D("1e-12")) + 0
    return value


def test_export(engines):
    for argv in (
        [*EVERYTHING],
        ["--month", "2026-02", "--period", "month"],
        ["--since", "2026-02-28", "--until", "2026-03-02", "--tags", "customer_id,客户,outcome"],
        ["--mtd", "--billing-account", "acct"],
    ):
        engines.cli(["export", "--format", "focus", *argv, *CONFIG_ARGS])
    engines.check()


@pytest.mark.parametrize("fmt", FORMATS)
def test_alerts(engines, fmt):
    thresholds = ["--daily-spend", "1", "--customer-daily", "0.01", "--user-daily", "0.01"]
    thresholds += ["--cost-per-user-growth", "5", "--feature-cost-vs-usage", "5", "--untagged-share", "1"]
    thresholds += ["--min-feature-cost", "0"]
    for at in ("2026-03-02", "2026-03-01", "2026-03-05T12:00"):
        engines.cli(["alerts", *thresholds, "--at", at, *CONFIG_ARGS, "--format", fmt])
        engines.cli(
            ["alerts", "--daily-spend", "0", "--explain", "customer_id", "--at", at, *CONFIG_ARGS, "--format", fmt]
        )
    engines.check()


@pytest.mark.parametrize("fmt", FORMATS)
def test_budgets(engines, fmt):
    for at in ("2026-03-05T12:00", "2026-03-01", "2026-02-28T23:00"):
        engines.cli(["budgets", "--at", at, *CONFIG_ARGS, "--format", fmt])
    engines.check()


@pytest.mark.parametrize("fmt", FORMATS)
def test_reconcile(engines, fmt):
    for by in ("day,model", "day", "model"):
        engines.cli(
            ["reconcile", "--invoice", "@invoice", "--provider", "openai", "--by", by, *CONFIG_ARGS, "--format", fmt]
        )
    engines.check()


@pytest.mark.parametrize("fmt", FORMATS)
def test_reprice_dry_run(engines, fmt):
    for argv in (["--by", "model"], ["--by", "customer_id,model", "--month", "2026-02"], ["--by", "feature"]):
        engines.cli(["reprice", "--prices", "@prices", *argv, *CONFIG_ARGS, "--format", fmt])
    engines.check()


WHOLE = "since=2025-12-01&until=2026-04-01"
PAGES = [
    "/api/meta",
    *(f"/api/overview/{panel}?{WHOLE}&unit=week&cohort=plan" for panel in overview.PANELS if panel != "changes"),
    *(f"/api/overview/{panel}?month=2026-02&unit=month&cohort=客户" for panel in overview.PANELS if panel != "changes"),
    *(f"/api/overview/{panel}?mtd=1&where=customer_id!=acme" for panel in overview.PANELS if panel != "changes"),
    "/api/overview/changes?where=split=exact",  # explain's close split aside (test_explain)
    f"/api/explore?by=customer_id&{WHOLE}&limit=5",
    f"/api/explore?by=week,customer_id&{WHOLE}&limit=9",
    f"/api/explore?by=客户,model&{WHOLE}&sort=客户",
    f"/api/explore?by=客户&{WHOLE}&where=plan=tie&limit=1",
    f"/api/explore.csv?by=customer_id,feature&{WHOLE}",
    "/api/explore.csv?by=month,plan&month=2026-02",
    f"/api/traces?{WHOLE}&limit=25",
    f"/api/traces?{WHOLE}&where=customer_id=acme",
    f"/api/explore?by=feature&{WHOLE}&where=customer_id=a%00b",
    f"/api/overview/customers?{WHOLE}&where=feature!=%00",
    *(f"/api/trace/{t}" for t in sorted({c.trace_id for c in CALLS})[:8]),
]


def test_page(engines, ledgers):
    """The page's questions (the Overview's panels, its forecast among them; Explore; traces) through the UI's API."""
    from aiohttp.test_utils import TestClient, TestServer

    from costline_processor.config_sources import load_config
    from costline_processor.ui.access import Access
    from costline_processor.ui.app import build_app
    from costline_processor.ui.readers import ReaderPool

    config = load_config(ledgers[1]["config"], env={})

    async def pages(url: str) -> list[tuple[int, str]]:
        pool = ReaderPool(url, size=1, columnar=engines.columnar)
        app = build_app(pool, config, Access(), clock=lambda: ts(NOW))
        try:
            async with TestClient(TestServer(app)) as client:
                return [(r.status, await r.text()) for r in [await client.get(p) for p in PAGES]]
        finally:
            pool.close()
            assert pool.fallbacks == 0  # the copy answered every question it was asked

    got = engines.each(lambda url: asyncio.run(pages(url)))
    answers = {engine: dict(zip(PAGES, pages)) for engine, pages in got.items()}
    for page in PAGES:
        engines.same(page, {engine: answers[engine][page] for engine in answers})
    engines.check()
    assert all(status == 200 for status, _ in answers["sqlite"].values()), answers["sqlite"]


def test_answers_are_the_calls_own_sums(engines):
    """The answers they agree on are right: each group's cost in CSV is this test's own exact sum of its calls."""
    exact = Context(prec=200)
    dims = ("model", "客户", "plan", "day", "caveat")
    outputs = [engines.cli(["report", "--by", dim, *EVERYTHING, *CONFIG_ARGS, "--format", "csv"]) for dim in dims]
    engines.check()
    for dim, (code, out, _) in zip(dims, outputs):
        assert code == 0
        got = {r[dim]: D(r["cost_usd"]) for r in csv.DictReader(io.StringIO(out))}
        want: dict[str, D] = {}
        for c in CALLS:
            key = label(c, dim)
            want[key] = exact.add(want.get(key, D(0)), c.cost_usd or D(0))
        assert got == want, dim


def label(call, dim: str) -> str:
    if dim == "model":
        return call.model or "unknown"
    if dim == "day":
        return datetime.fromtimestamp(call.start_unix_nano // NS, UTC).strftime("%Y-%m-%d")
    if dim == "caveat":
        return call.price_caveat or "(none)"
    return call.tags.get(dim) or "untagged"
