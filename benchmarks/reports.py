"""Reports at scale: `costline report` and `top` on synthetic ledgers of 1M and 10M calls, SQLite and
PostgreSQL, each beside the raw SQL of the same question in the same run (issue #17).

The ledgers: 90 days of calls ending 2026-04-01 (UTC), 10 features, 5,000 customers, 50,000
users (a customer's users; busier users call more), sessions of a few requests of a few
calls, six models of three providers at their list prices (cache reads and writes included),
1% unpriced calls, 2% with a price caveat, 3% without a customer. Rows are LedgerRows turned
into the writer's own tuples (schema.to_params) and bulk-inserted into a table made by the
writer's own DDL (SQLite: executemany in large transactions; PostgreSQL: COPY, with the keys
and indexes built after the load; SQLite's per-day rollup filled once after it). Each ledger is cached
under --cache and reused; one cached by an older schema is upgraded in place by costline, as a user's is.

Each measurement is a fresh process, its wall time and its peak RSS (wait4): the costline
command as a user types it (table format, so the untagged footer and caveat lines are
computed too), and `--raw`: this file running the hand-written GROUP BY of the same question
through the same driver (sqlite3 / psycopg), fetching every row; on SQLite, of the per-day rollup
(costline_daily) for the questions it holds, with the GROUP BY over the calls timed beside it. Best of --repeats,
alternating. PostgreSQL runs on a server started here (its data under --cache). Prints
figures; never fails a build.

  python benchmarks/reports.py [--calls 1000000,10000000] [--engines sqlite,postgresql] [--repeats 2]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from costline_processor.ledger import open_reader, rollup, schema
from costline_processor.ledger import sqlite as sqlite_store
from costline_processor.records import LedgerRow

GENERATOR = "1"  # bump when the synthetic calls change: cached ledgers are rebuilt
END = int(datetime(2026, 4, 1, tzinfo=UTC).timestamp()) * 10**9
DAY = 86_400 * 10**9
FEATURES = (
    ("chat", 30),
    ("search", 20),
    ("summarize", 12),
    ("support", 10),
    ("research-agent", 8),
    ("extract", 6),
    ("classify", 5),
    ("translate", 4),
    ("code-review", 3),
    ("report", 2),
)
# model, provider, $ per million tokens: input, output, cache read, cache write; share of calls
MODELS = (
    ("gpt-4o", "openai", "2.50", "10", "1.25", "0", 20),
    ("gpt-4o-mini", "openai", "0.15", "0.60", "0.075", "0", 30),
    ("claude-sonnet-4-5", "anthropic", "3", "15", "0.30", "3.75", 15),
    ("claude-haiku-4-5", "anthropic", "1", "5", "0.10", "1.25", 15),
    ("gemini-2.5-flash", "google", "0.30", "2.50", "0.075", "0", 15),
    ("text-embedding-3-small", "openai", "0.02", "0", "0", "0", 5),
)
AGENTS = ("research/plan", "research/search_web", "research/search_wiki", "research/write")
MILLION = Decimal(1_000_000)


def calls(n: int, seed: int = 17):
    """n LedgerRows over the 90 days before END, oldest first."""
    r = random.Random(seed)
    features = [f for f, w in FEATURES for _ in range(w)]
    models = [m for m in MODELS for _ in range(m[6])]
    step = 90 * DAY // n
    made, t = 0, END - 90 * DAY
    while made < n:
        trace = r.getrandbits(128)
        session = f"{r.getrandbits(64):016x}"
        user = int(50_000 * r.random() ** 2)
        tags = {
            "feature": r.choice(features),
            "user_id": f"user-{user:05d}",
            "session_id": session,
            "environment": "prod" if r.random() < 0.95 else "staging",
        }
        if r.random() >= 0.03:
            tags["customer_id"] = f"cust-{user % 5000:04d}"
        for _ in range(min(r.choice((1, 1, 2, 3, 4)), n - made)):
            yield _call(r, trace, t, tags, models)
            made += 1
            t += step


def _call(r: random.Random, trace: int, t: int, tags: dict, models: list) -> LedgerRow:
    model, provider, p_in, p_out, p_read, p_write, _ = r.choice(models)
    tokens = [int(r.lognormvariate(7, 1)), int(r.lognormvariate(5, 1)), 0, 0, 0]
    tokens[2] = int(tokens[0] * r.random() * 0.5) if p_read != "0" and r.random() < 0.4 else 0
    tokens[3] = int(tokens[0] * 0.2) if p_write != "0" and r.random() < 0.1 else 0
    parts = [
        Decimal(p) * k / MILLION
        for p, k in zip(
            (p_in, p_out, p_read, p_write), (tokens[0] - tokens[2] - tokens[3], tokens[1], tokens[2], tokens[3])
        )
    ]
    unpriced = r.random() < 0.01
    cost = None if unpriced else sum(parts, Decimal(0))
    agent = r.choice(AGENTS) if tags["feature"] == "research-agent" else ""
    return LedgerRow(
        trace_id=f"{trace:032x}",
        span_id=f"{r.getrandbits(64):016x}",
        parent_span_id="",
        start_unix_nano=t,
        end_unix_nano=t + 800_000_000,
        service="worker" if agent else "api",
        span_name=f"chat {model}",
        tags=tags,
        agent_path=agent,
        operation="chat",
        provider=provider,
        model=model,
        request_model=model,
        input_tokens=tokens[0],
        output_tokens=tokens[1],
        cache_read_tokens=tokens[2],
        cache_write_tokens=tokens[3],
        reasoning_tokens=0,
        cost_usd=cost,
        input_usd=None if unpriced else parts[0],
        output_usd=None if unpriced else parts[1],
        cache_read_usd=None if unpriced else parts[2],
        cache_write_usd=None if unpriced else parts[3],
        price_source=None if unpriced else "bench",
        status="unknown_model" if unpriced else None,
        price_caveat="tier_by_rule:batch" if not unpriced and r.random() < 0.02 else None,
        list_usd=cost,
    )


def _mark_rollup(path: Path) -> None:
    """A ledger this script bulk-loaded before the rollup had its mark: its rollup was filled whole, so mark it
    (costline would otherwise read the calls, or a writer add the rollup up again)."""
    import sqlite3

    conn = sqlite3.connect(path, isolation_level=None)
    if conn.execute(f"SELECT 1 FROM costline_meta WHERE key = '{rollup.MARK_KEY}'").fetchone() is None:
        conn.execute(rollup.MARK_ALL)
    conn.close()


def _page_size(path: Path) -> None:
    """A ledger this script loaded before new ledgers had PAGE_SIZE pages: converted as ledger/README.md says."""
    import sqlite3

    conn = sqlite3.connect(path, isolation_level=None)
    if conn.execute("PRAGMA page_size").fetchone()[0] != sqlite_store.PAGE_SIZE:
        started = time.perf_counter()
        conn.execute("PRAGMA journal_mode = DELETE")
        conn.execute(f"PRAGMA page_size = {sqlite_store.PAGE_SIZE}")
        conn.execute("VACUUM")
        conn.execute("PRAGMA journal_mode = WAL")
        print(
            f"  {path.name}: {sqlite_store.PAGE_SIZE // 1024} KiB pages, {time.perf_counter() - started:.0f} s",
            flush=True,
        )
    conn.close()


def sqlite_ledger(n: int, cache: Path) -> str:
    import sqlite3

    path = cache / f"ledger-{n}-g{GENERATOR}-s{schema.SCHEMA_VERSION}.db"
    if path.exists():
        _mark_rollup(path)
        _page_size(path)
        return str(path)
    older = sorted(cache.glob(f"ledger-{n}-g{GENERATOR}-s*.db"), key=lambda p: int(p.stem.rpartition("-s")[2]))
    if older:  # a ledger of an older schema: upgraded in place, as costline upgrades a user's
        started = time.perf_counter()
        open_reader(str(older[-1])).close()
        older[-1].rename(path)
        print(f"  upgraded {older[-1].name} in place: {time.perf_counter() - started:.0f} s", flush=True)
        return str(path)
    tmp = path.with_suffix(".part")
    tmp.unlink(missing_ok=True)
    started = time.perf_counter()
    conn = sqlite3.connect(tmp, isolation_level=None)
    conn.execute(f"PRAGMA page_size = {sqlite_store.PAGE_SIZE}")  # as the writer makes a ledger
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("PRAGMA cache_size = -2000000")
    for stmt in [*schema.create_statements("sqlite"), *schema.index_statements("sqlite")]:
        conn.execute(stmt)
    conn.execute("INSERT INTO costline_meta VALUES ('schema_version', ?)", (schema.SCHEMA_VERSION,))
    cols = schema.insert_columns("sqlite")
    insert = f"INSERT INTO {schema.TABLE} ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})"
    for batch in _batches(calls(n), 100_000):
        conn.execute("BEGIN")
        conn.executemany(insert, [schema.to_params(row, row.start_unix_nano, "sqlite") for row in batch])
        conn.execute("COMMIT")
    conn.execute(rollup.fill())  # the writer adds each batch to the per-day rollup; a bulk load adds them once
    conn.execute(rollup.MARK_ALL)  # ... and marks it whole
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    tmp.rename(path)
    print(
        f"  generated {path.name}: {time.perf_counter() - started:.0f} s, {path.stat().st_size / 2**30:.1f} GiB",
        flush=True,
    )
    return str(path)


def _batches(rows, size: int):
    batch = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def pg_server(cache: Path) -> str:
    """A PostgreSQL server on this machine with its data under `cache` (started, or already running)."""
    import glob

    bindir = sorted(glob.glob("/usr/lib/postgresql/*/bin"))[-1]
    data, port_file = cache / "pg", cache / "pg.port"
    as_pg = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if not (data / "PG_VERSION").exists():
        data.mkdir(parents=True, exist_ok=True)
        if as_pg:
            shutil.chown(cache, "postgres", "postgres")
            shutil.chown(data, "postgres", "postgres")
        subprocess.run(
            [*as_pg, f"{bindir}/initdb", "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8"],
            check=True,
            capture_output=True,
        )
    status = subprocess.run([*as_pg, f"{bindir}/pg_ctl", "-D", str(data), "status"], capture_output=True)
    if status.returncode != 0:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port_file.write_text(str(sock.getsockname()[1]))
        port = port_file.read_text()
        opts = (
            f"-p {port} -k {data} -c listen_addresses=127.0.0.1 -c shared_buffers=1GB -c work_mem=64MB "
            "-c max_parallel_workers_per_gather=2 -c fsync=off -c synchronous_commit=off -c max_wal_size=8GB"
        )
        subprocess.run(
            [
                *as_pg,
                f"{bindir}/pg_ctl",
                "-D",
                str(data),
                "-l",
                str(cache / "pg.log"),
                "-o",
                opts,
                "-w",
                "-t",
                "120",
                "start",
            ],
            check=True,
            capture_output=True,
        )
    return f"postgresql://postgres@127.0.0.1:{port_file.read_text()}"


def pg_stop(cache: Path) -> None:
    import glob

    bindir = sorted(glob.glob("/usr/lib/postgresql/*/bin"))[-1]
    as_pg = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    subprocess.run(
        [*as_pg, f"{bindir}/pg_ctl", "-D", str(cache / "pg"), "-m", "fast", "-w", "stop"], capture_output=True
    )


def pg_ledger(n: int, server: str) -> str:
    import psycopg

    name = f"ledger_{n}_g{GENERATOR}_s{schema.SCHEMA_VERSION}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            return f"{server}/{name}"
        older = [
            o
            for (o,) in conn.execute(
                "SELECT datname FROM pg_database WHERE datname LIKE %s", (f"ledger_{n}_g{GENERATOR}_s%",)
            )
        ]
        older = sorted((o for o in older if o.rpartition("_s")[2].isdigit()), key=lambda o: int(o.rpartition("_s")[2]))
        if older:  # a ledger of an older schema: upgraded in place
            open_reader(f"{server}/{older[-1]}").close()
            conn.execute(f"ALTER DATABASE {older[-1]} RENAME TO {name}")
            return f"{server}/{name}"
        conn.execute(f"DROP DATABASE IF EXISTS {name}_part")
        conn.execute(f"CREATE DATABASE {name}_part")
    started = time.perf_counter()
    with psycopg.connect(f"{server}/{name}_part", autocommit=True) as conn:
        ddl = [*schema.create_statements("postgresql"), *schema.index_statements("postgresql")]
        for stmt in ddl:
            conn.execute(stmt)
        # the keys and indexes are built once after the load, not row by row during it
        conn.execute(f"ALTER TABLE {schema.TABLE} DROP CONSTRAINT {schema.TABLE}_pkey")
        conn.execute(f"DROP INDEX {schema.TABLE}_start, {schema.TABLE}_caveat")
        cols = ", ".join(schema.insert_columns("postgresql"))
        with conn.cursor() as cur, cur.copy(f"COPY {schema.TABLE} ({cols}) FROM STDIN") as copy:
            for row in calls(n):
                copy.write_row(schema.to_params(row, row.start_unix_nano, "postgresql"))
        conn.execute(f"ALTER TABLE {schema.TABLE} ADD PRIMARY KEY (trace_id, span_id)")
        for stmt in ddl:
            conn.execute(stmt)
        conn.execute("INSERT INTO costline_meta VALUES ('schema_version', %s)", (schema.SCHEMA_VERSION,))
        conn.execute("VACUUM ANALYZE")
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f"ALTER DATABASE {name}_part RENAME TO {name}")
    print(f"  generated {name}: {time.perf_counter() - started:.0f} s", flush=True)
    return f"{server}/{name}"


# name -> (costline arguments, raw SQL with {feature} / {p} / {month}... for the dialect, days back from END)
QUESTIONS = {
    "by-feature": (
        ["report", "--by", "feature"],
        "SELECT {feature}, {sums} FROM costline_calls "
        "WHERE start_unix_nano >= {p} AND start_unix_nano < {p} GROUP BY 1",
        30,
    ),
    "by-month-customer": (
        ["report", "--by", "month,customer_id"],
        "SELECT {month}, {customer}, {sums} "
        "FROM costline_calls WHERE start_unix_nano >= {p} AND start_unix_nano < {p} "
        "GROUP BY 1, 2",
        90,
    ),
    "top-customers": (
        ["top", "customer_id"],
        "SELECT {customer}, {sums} FROM costline_calls WHERE start_unix_nano "
        ">= {p} AND start_unix_nano < {p} GROUP BY 1 ORDER BY SUM(cost_usd) DESC LIMIT 10",
        30,
    ),
    "per-user": (
        ["report", "--by", "feature", "--per-user"],
        "SELECT {feature}, {sums}, COUNT(DISTINCT "
        "{user}) FROM costline_calls WHERE start_unix_nano >= {p} AND start_unix_nano < {p} "
        "GROUP BY 1",
        30,
    ),
    "top-traces": (
        ["top", "traces"],
        "SELECT trace_id, {sums} FROM costline_calls WHERE start_unix_nano >= {p} AND "
        "start_unix_nano < {p} GROUP BY 1 ORDER BY SUM(cost_usd) DESC LIMIT 10",
        30,
    ),
}
# The questions costline answers from SQLite's per-day rollup (schema 6, ledger/rollup.py) when the window is
# whole UTC days, as someone who knows that table would ask it of SQLite; the GROUP BY over the calls is
# timed beside it ("calls SQL").
ROLLUP_SQL = {
    "by-feature": "SELECT COALESCE(NULLIF(json_extract(tags, '$.feature'), ''), 'untagged'), SUM(calls), "
    "SUM(CASE WHEN priced THEN 0 ELSE calls END), SUM(input_tokens), SUM(output_tokens), SUM(cache_read_tokens), "
    "SUM(cache_write_tokens), SUM(reasoning_tokens), SUM(cost_micro), SUM(cost_rest) FROM costline_daily "
    "WHERE day >= ? AND day < ? GROUP BY 1",
}
SUMS = (
    "COUNT(*), COUNT(*) - COUNT(cost_usd), SUM(input_tokens), SUM(output_tokens), SUM(cache_read_tokens), "
    "SUM(cache_write_tokens), SUM(reasoning_tokens), SUM(cost_usd)"
)


def raw_sql(name: str, dialect: str) -> tuple[str, list[int]]:
    """The hand-written SQL of a question, as someone who knows the ledger's schema would type it."""
    _, sql, days = QUESTIONS[name]
    if dialect == "sqlite":
        read, p = "json_extract(tags, '$.{}')", "?"
        month = "strftime('%Y-%m', start_unix_nano / 1000000000, 'unixepoch')"
    else:
        read, p = "(tags ->> '{}')", "%s"
        month = "to_char(to_timestamp(start_unix_nano / 1000000000) AT TIME ZONE 'UTC', 'YYYY-MM')"
    tag = "COALESCE(NULLIF(" + read + ", ''), 'untagged')"
    user = "NULLIF(" + read.format("user_id") + ", '')"
    text = sql.format(
        feature=tag.format("feature"), customer=tag.format("customer_id"), user=user, month=month, sums=SUMS, p=p
    )
    return text, [END - days * DAY, END]


def run_raw(dialect: str, location: str, name: str) -> None:
    """--raw: the question's SQL through the plain driver, every row fetched (a child process of main);
    dialect "sqlite" asks the rollup when it holds the question, "sqlite-calls" always the calls."""
    sql, params = raw_sql(name, dialect.removesuffix("-calls"))
    if dialect == "sqlite" and name in ROLLUP_SQL:
        sql, params = ROLLUP_SQL[name], [p // DAY for p in params]
    if dialect.startswith("sqlite"):
        import sqlite3

        rows = sqlite3.connect(location).execute(sql, params).fetchall()
    else:
        import psycopg

        with psycopg.connect(location) as conn:
            rows = conn.execute(sql, params).fetchall()
    print(len(rows))


def measure(argv: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of one process. The peak is the new program's own high-water
    mark (VmHWM, read until it exits): wait4's ru_maxrss would include this big parent's, which
    a child inherits across fork and exec."""
    started = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = 0
    while proc.poll() is None:
        try:
            with open(f"/proc/{proc.pid}/status") as f:
                peak = max(peak, next(int(line.split()[1]) for line in f if line.startswith("VmHWM:")))
        except (OSError, StopIteration):
            pass
        time.sleep(0.01)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed: {(proc.stderr.read() if proc.stderr else b'').decode()[-2000:]}")
    return elapsed, peak / 1024


def compare(dialect: str, location: str, name: str, repeats: int) -> dict[str, tuple[float, float]]:
    """Best time and peak RSS of: the raw SQL; the command printing CSV (the rows the raw SQL returns,
    plus caveat columns); the command printing its table (plus the total, the untagged bucket and the
    caveat lines in its footer)."""
    args, _, days = QUESTIONS[name]
    iso = lambda ns: datetime.fromtimestamp(ns / 1e9, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    cli = [
        sys.executable,
        "-m",
        "costline_processor.cli",
        *args,
        "--since",
        iso(END - days * DAY),
        "--until",
        iso(END),
        "--ledger",
        location,
    ]
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
            t, rss = measure(argv)
            best[key] = (min(best[key][0], t), max(best[key][1], rss))
    return best


def migration(location: str) -> float:
    """Seconds for a report to open a version 5 copy of the SQLite ledger: the upgrade in place adds up
    every call into the version 6 per-day rollup."""
    import sqlite3

    copy = Path(location).with_suffix(".v5")
    shutil.copyfile(location, copy)
    conn = sqlite3.connect(copy)
    conn.execute(f"DROP TABLE {rollup.TABLE}")
    for event in ("update", "delete"):
        conn.execute(f"DROP TRIGGER {rollup.TABLE}_{event}")
    conn.execute("UPDATE costline_meta SET value = '5' WHERE key = 'schema_version'")
    conn.commit()
    conn.close()
    try:
        seconds, _ = measure(
            [
                sys.executable,
                "-m",
                "costline_processor.cli",
                "report",
                "--format",
                "csv",
                "--since",
                "2026-03-31",
                "--until",
                "2026-04-01",
                "--ledger",
                str(copy),
            ]
        )
    finally:
        copy.unlink()
    return seconds


def parser(doc: str, questions) -> argparse.ArgumentParser:
    """The options this benchmark and explain.py share (ledgers, engines, questions, repeats, cache, --raw)."""
    p = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--calls", default="1000000,10000000", help="ledger sizes, comma-separated")
    p.add_argument("--engines", default="sqlite,postgresql")
    p.add_argument("--questions", default=",".join(questions), help="which questions (names as printed)")
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--cache", default="/tmp/costline-reports-bench", help="where the ledgers are kept between runs")
    p.add_argument("--raw", nargs=3, metavar=("DIALECT", "LOCATION", "QUESTION"), help=argparse.SUPPRESS)
    return p


def main() -> None:
    p = parser(__doc__, QUESTIONS)
    p.add_argument("--migration", action="store_true", help="also time the upgrade of a version 5 SQLite ledger")
    args = p.parse_args()
    if args.raw:
        return run_raw(*args.raw)
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    try:
        run_all(args, cache)
    finally:
        if "postgresql" in args.engines and (cache / "pg").exists():
            pg_stop(cache)


def run_all(args: argparse.Namespace, cache: Path) -> None:
    for n in (int(x) for x in args.calls.split(",")):
        for engine in args.engines.split(","):
            print(f"\n{n:,} calls, {engine}", flush=True)
            location = sqlite_ledger(n, cache) if engine == "sqlite" else pg_ledger(n, pg_server(cache))
            print(
                f"  {'costline ... (window)':42} {'raw SQL':>8} {'csv':>8} {'ratio':>6} {'table':>8} {'ratio':>6}"
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
            if args.migration and engine == "sqlite":
                print(f"  a version 5 copy upgraded in place by the first report: {migration(location):.1f} s")


if __name__ == "__main__":
    main()
