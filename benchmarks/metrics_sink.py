"""MetricsSink.write per ledger row: the metrics sink's cost on the hot path (every priced call passes it).

Rows as the ledger writes them (7 default dimensions, 5 of them tags, 200 customers, 10 features, a few
models, 3 token types non-zero), written through a real sink (OTel SDK counters, the Prometheus reader),
in batches of 100 as the pipeline hands them. Prints microseconds per row, best of --repeats, for:

- plain: one owner in every tag (every normal call);
- shared: every row's customer_id names two owners (two series each);
- with --against FILE (another metrics.py, e.g. `git show HEAD~1:processor/src/costline_processor/metrics.py
  > /tmp/old.py`): plain rows through that version too, runs alternated with this one's, so both see the
  same machine load (first and second in turn).

  python benchmarks/metrics_sink.py [--rows 50000] [--repeats 5] [--against /tmp/old.py]
"""

from __future__ import annotations

import argparse
import importlib.util
import time
from decimal import Decimal

from costline_processor import metrics
from costline_processor.records import LedgerRow


def row(i: int, shared: bool) -> LedgerRow:
    customer = f'["c{i % 200}","c{(i + 1) % 200}"]' if shared else f"c{i % 200}"
    return LedgerRow(
        trace_id=f"{i:032x}",
        span_id=f"{i:016x}",
        parent_span_id="",
        start_unix_nano=i,
        end_unix_nano=i + 1,
        service="app",
        span_name="chat gpt-4o-mini",
        tags={"feature": f"f{i % 10}", "customer_id": customer, "environment": "prod", "team": "t1"},
        agent_path="",
        operation="chat",
        provider="openai",
        model=("gpt-4o-mini", "gpt-4o", "claude-3-5-sonnet")[i % 3],
        request_model=None,
        input_tokens=1000 + i % 97,
        output_tokens=200 + i % 31,
        cache_read_tokens=i % 5 * 100,
        cache_write_tokens=0,
        reasoning_tokens=0,
        cost_usd=Decimal("0.000137") * (i % 17 + 1),
        input_usd=None,
        output_usd=None,
        cache_read_usd=None,
        cache_write_usd=None,
        price_source="litellm",
        status=None,
    )


def per_row_us(module, rows: list[LedgerRow]) -> float:
    sink = module.MetricsSink()
    try:
        sink.write(rows[:1000])  # series created, label budget filled: the steady state
        t0 = time.perf_counter()
        for k in range(0, len(rows), 100):
            sink.write(rows[k : k + 100])
        return (time.perf_counter() - t0) / len(rows) * 1e6
    finally:
        sink.close()


def load(path: str):
    spec = importlib.util.spec_from_file_location("metrics_against", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=50_000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--against", help="another metrics.py to time plain rows through, alternated")
    args = ap.parse_args()
    plain = [row(i, False) for i in range(args.rows)]
    shared = [row(i, True) for i in range(args.rows)]
    other = load(args.against) if args.against else None
    times: dict[str, list[float]] = {}
    for k in range(args.repeats):
        runs = [("plain", metrics, plain), ("shared (2 owners)", metrics, shared)]
        if other is not None:
            runs.insert(k % 2, ("plain, --against", other, plain))  # first on every other round
        for name, module, rows in runs:
            times.setdefault(name, []).append(per_row_us(module, rows))
    for name, got in times.items():
        print(f"{name:20} best {min(got):6.2f} us/row  (runs {', '.join(f'{t:.2f}' for t in got)})")


if __name__ == "__main__":
    main()
