"""The quota ledger's costs (issue 21). Prints one JSON line.

- admit + settle, directly on Postgres (embedded, local): p50 and p95 in ms (target p50 <= 3 ms);
- usage reads over 120k per-answer rows (100 users x 30 days x 4 models x 10 answers a day), on
  Postgres and on DynamoDB (moto, in-process: it measures the store's logic and call count, not
  DynamoDB's latency): the user view (GET /usage for a month) and the administrator's view
  (GET /admin/usage for a month), p95 in ms (target <= 300 ms), and the peer ratio of the stores.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from chatbot.policy.quotas import QuotaStore, TokenPrice, UsageRow
from chatbot.policy.usage_reports import organisation_usage, usage_report

USERS, DAYS, MODELS, PER_DAY = 100, 30, 4, 10
NOW = datetime(2026, 12, 30, 12, tzinfo=UTC)


def rows() -> list[UsageRow]:
    first = date(2026, 12, 1)
    return [
        UsageRow(
            user_id=f"user{u:03d}",
            model=f"model{m}",
            day=(first + timedelta(days=d)).isoformat(),
            prompt_tokens=100 + u,
            completion_tokens=200 + m,
            cost_usd=0.001 * (m + 1),
        )
        for u in range(USERS)
        for d in range(DAYS)
        for m in range(MODELS)
        for _ in range(PER_DAY)
    ]


def log(step: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {step}", file=sys.stderr, flush=True)


def timed(call: Callable[[], object], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return times


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def reads(store: QuotaStore, runs: int) -> dict[str, float]:
    user = timed(lambda: usage_report(store, "user042", [], "month", NOW), runs)
    admin = timed(lambda: organisation_usage(store, "month", "cost", NOW), runs)
    return {
        "user_view_p50_ms": round(statistics.median(user), 2),
        "user_view_p95_ms": round(percentile(user, 0.95), 2),
        "admin_view_p50_ms": round(statistics.median(admin), 2),
        "admin_view_p95_ms": round(percentile(admin, 0.95), 2),
    }


def postgres(runs: int) -> dict[str, float]:
    from chatbot.policy.postgres_quotas import PostgresQuotaStore
    from chatbot.postgres import ConnectionPool, create_database, temporary_server

    with temporary_server() as url:
        pool = ConnectionPool(create_database(url, "usage_bench"), max_connections=4)
        store = PostgresQuotaStore(pool, clock=lambda: NOW)
        price = TokenPrice(input=1e-6, output=2e-6)

        def admit_and_settle() -> None:
            held = store.admit("bench", model="model0", prompt_tokens=50, max_new_tokens=200, price=price)
            store.settle(held, 50, 120)

        for _ in range(20):  # warm the pool and the plans
            admit_and_settle()
        cycle = timed(admit_and_settle, runs * 5)
        log("postgres: admit + settle timed; seeding")
        started = time.perf_counter()
        store.add_usage_rows(rows())
        seeded_s = time.perf_counter() - started
        with pool.connection() as conn, conn.cursor() as cur:
            cur.execute("ANALYZE quota_usage")
            conn.commit()
        log("postgres: seeded; reading")
        figures = reads(store, runs)
        pool.close()
    return {
        "admit_settle_p50_ms": round(statistics.median(cycle), 3),
        "admit_settle_p95_ms": round(percentile(cycle, 0.95), 3),
        "seed_rows_s": round(seeded_s, 1),
        **figures,
    }


def dynamodb(runs: int) -> dict[str, float]:
    import boto3
    from moto import mock_aws

    from chatbot.chat.dynamodb_store import TABLE_SCHEMA
    from chatbot.policy.dynamodb_quotas import DynamoDBQuotaStore

    with mock_aws():
        boto3.resource("dynamodb", region_name="us-east-1").create_table(TableName="history", **TABLE_SCHEMA)
        store = DynamoDBQuotaStore("history", region="us-east-1", clock=lambda: NOW)
        cycle = timed(
            lambda: store.settle(
                store.admit("bench", model="model0", prompt_tokens=50, max_new_tokens=200), 50, 120
            ),
            runs,
        )
        log("dynamodb: admit + settle timed; seeding")
        started = time.perf_counter()
        store.add_usage_rows(rows())
        seeded_s = time.perf_counter() - started
        log("dynamodb: seeded; reading")
        return {
            "admit_settle_p50_ms": round(statistics.median(cycle), 3),
            "seed_rows_s": round(seeded_s, 1),
            **reads(store, runs),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument(
        "--dynamodb-runs",
        type=int,
        default=10,
        help="reads on DynamoDB (moto answers a 120k-row query in seconds, not milliseconds)",
    )
    parser.add_argument(
        "--postgres-only",
        action="store_true",
        help="skip DynamoDB on moto (its 120k rows take minutes to seed)",
    )
    args = parser.parse_args()
    pg = postgres(args.runs)
    log(f"postgres: {json.dumps(pg)}")
    ddb = {} if args.postgres_only else dynamodb(args.dynamodb_runs)
    print(
        json.dumps(
            {
                "benchmark": "usage",
                "rows": USERS * DAYS * MODELS * PER_DAY,
                "postgres": pg,
                "dynamodb_moto": ddb,
                "targets": {"admit_settle_p50_ms": 3, "view_p95_ms": 300},
                "peer_ratio_dynamodb_over_postgres": {
                    view: round(ddb[view] / pg[view], 2) if pg[view] and view in ddb else None
                    for view in ("user_view_p95_ms", "admin_view_p95_ms")
                },
                "note": "DynamoDB on moto in-process: function and call counts, not AWS latency; a shared 2-core machine",
            }
        )
    )


if __name__ == "__main__":
    main()
