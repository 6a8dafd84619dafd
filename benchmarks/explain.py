"""`costline explain` at scale: the synthetic ledgers of benchmarks/reports.py (1M and 10M calls, SQLite
and PostgreSQL, the same cache), each question beside the raw SQL of the same two GROUP BYs (issue #20).

explain reads each period once, grouped by (row, model), with calls, cost, the five token sums and
three columns of the cost split; the raw SQL is what someone who knows the schema would type for
that: the same two SELECTs through the plain driver, every row fetched, nothing computed after; on
SQLite, for the default question (whole days), the same of the per-day rollup, with the calls' beside it.
Each measurement is a fresh process (wall time, peak RSS), best of --repeats, as in reports.py; the
targets are the reports' (issue #17): within 1.5x of the raw SQL, under 5 s and 200 MB at 10M calls.
Prints figures; never fails a build.

  python benchmarks/explain.py [--calls 1000000,10000000] [--engines sqlite,postgresql] [--repeats 2]
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import reports  # the same ledgers, server and measurement (after the path insert)

# name: (explain's arguments, the row tag, days in each period)
QUESTIONS = {
    "by-feature": (["explain"], "feature", 7),
    "by-customer": (["explain", "--by", "customer_id"], "customer_id", 30),
}
SUMS = (
    "COUNT(*), SUM(cost_usd), SUM(input_tokens), SUM(output_tokens), SUM(cache_read_tokens), "
    "SUM(cache_write_tokens), SUM(reasoning_tokens), SUM(input_usd), SUM(cache_read_usd), SUM(cache_write_usd)"
)


# explain's default question read from SQLite's per-day rollup (schema 6), as one who knows costline_daily would:
# each period is whole UTC days here. The GROUP BY over the calls is timed beside it ("calls SQL").
ROLLUP_SQL = {
    "by-feature": "SELECT COALESCE(NULLIF(json_extract(tags, '$.feature'), ''), 'untagged'), model, SUM(calls), "
    "SUM(cost_micro), SUM(cost_rest), SUM(input_tokens), SUM(output_tokens), SUM(cache_read_tokens), "
    "SUM(cache_write_tokens), SUM(reasoning_tokens), SUM(input_usd_micro), SUM(input_usd_femto), "
    "SUM(cache_read_usd_micro), SUM(cache_read_usd_femto), SUM(cache_write_usd_micro), SUM(cache_write_usd_femto) "
    "FROM costline_daily WHERE priced AND day >= ? AND day < ? GROUP BY 1, 2",
}


def raw_sql(name: str, dialect: str) -> tuple[str, list[list[int]]]:
    """The hand-written SELECT of one period, and the parameters of both periods."""
    _, tag, days = QUESTIONS[name]
    read, p = ("json_extract(tags, '$.{}')", "?") if dialect == "sqlite" else ("(tags ->> '{}')", "%s")
    row = "COALESCE(NULLIF(" + read.format(tag) + ", ''), 'untagged')"
    sql = (
        f"SELECT {row}, model, {SUMS} FROM costline_calls WHERE cost_usd IS NOT NULL "
        f"AND start_unix_nano >= {p} AND start_unix_nano < {p} GROUP BY 1, 2"
    )
    span = days * reports.DAY
    return sql, [[reports.END - span, reports.END], [reports.END - 2 * span, reports.END - span]]


def run_raw(dialect: str, location: str, name: str) -> None:
    """--raw: both periods' SQL through the plain driver, every row fetched (a child process of main)."""
    sql, periods = raw_sql(name, dialect.removesuffix("-calls"))
    if dialect == "sqlite" and name in ROLLUP_SQL:
        sql, periods = ROLLUP_SQL[name], [[p // reports.DAY for p in period] for period in periods]
    if dialect.startswith("sqlite"):
        import sqlite3

        conn = sqlite3.connect(location)
        print(sum(len(conn.execute(sql, p).fetchall()) for p in periods))
    else:
        import psycopg

        with psycopg.connect(location) as pg:
            print(sum(len(pg.execute(sql, p).fetchall()) for p in periods))


def compare(dialect: str, location: str, name: str, repeats: int) -> dict[str, tuple[float, float]]:
    """Best time and peak RSS of the raw SQL, explain's CSV and explain's table (headline and footer)."""
    args, _, days = QUESTIONS[name]
    iso = lambda ns: datetime.fromtimestamp(ns / 1e9, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    window = ["--since", iso(reports.END - days * reports.DAY), "--until", iso(reports.END)]
    cli = [sys.executable, "-m", "costline_processor.cli", *args, *window, "--ledger", location]
    runs = {
        "raw": [sys.executable, __file__, "--raw", dialect, location, name],
        "csv": [*cli, "--format", "csv"],
        "table": cli,
    }
    if dialect == "sqlite" and name in ROLLUP_SQL:
        runs["calls"] = [sys.executable, __file__, "--raw", "sqlite-calls", location, name]
    best = {key: (1e9, 0.0) for key in runs}
    for _ in range(repeats):
        for key, argv in runs.items():
            t, rss = reports.measure(argv)
            best[key] = (min(best[key][0], t), max(best[key][1], rss))
    return best


def main() -> None:
    args = reports.parser(__doc__, QUESTIONS).parse_args()
    if args.raw:
        return run_raw(*args.raw)
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    running = (cache / "pg" / "postmaster.pid").exists()  # a server reports.py left up is left up
    try:
        run_all(args, cache)
    finally:
        if "postgresql" in args.engines and (cache / "pg").exists() and not running:
            reports.pg_stop(cache)


def run_all(args: argparse.Namespace, cache: Path) -> None:
    for n in (int(x) for x in args.calls.split(",")):
        for engine in args.engines.split(","):
            print(f"\n{n:,} calls, {engine}", flush=True)
            if engine == "sqlite":
                location = reports.sqlite_ledger(n, cache)
            else:
                location = reports.pg_ledger(n, reports.pg_server(cache))
            print(
                f"  {'costline ... (each period)':42} {'raw SQL':>8} {'csv':>8} {'ratio':>6} {'table':>8} {'ratio':>6}"
                f" {'peak RSS':>9} {'raw':>5}"
            )
            for name in args.questions.split(","):
                best = compare(engine, location, name, args.repeats)
                (raw, raw_rss), (csv, csv_rss), (table, table_rss) = best["raw"], best["csv"], best["table"]
                label = f"{' '.join(QUESTIONS[name][0])} ({QUESTIONS[name][2]} days)"
                print(
                    f"  {label:42} {raw:7.2f}s {csv:7.2f}s {csv / raw:5.2f}x {table:7.2f}s {table / raw:5.2f}x "
                    f"{max(csv_rss, table_rss):7.0f}MB {raw_rss:3.0f}MB"
                    + (f"  (raw SQL of the rollup; of the calls {best['calls'][0]:.2f}s)" if "calls" in best else ""),
                    flush=True,
                )


if __name__ == "__main__":
    main()
