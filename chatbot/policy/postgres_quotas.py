"""The quota ledger in Postgres (migration component `quotas`).

- `quota_counters`: one row per subject (`user:NAME`, `key:ID`) and period (`day:2026-12-07`,
  `month:2026-12`, `streams`, `minute:2026-12-07T10:31`): what is used and what is held.
- `quota_holds`: one row per unsettled answer, with its expiry and the amounts it holds.
- `quota_usage`: one row per settled answer (user, key, model, day, tokens, cost).
- `quota_limits`: limits administrators stored (`role:NAME`, `user:NAME`, `key:ID`).
- `audit_log`: administrators' actions.

Taking a counter is one `INSERT ... ON CONFLICT DO UPDATE ... WHERE ... RETURNING`: the row's
lock orders concurrent takers and its WHERE checks what remains under that lock. A hold is
given back exactly once: by whoever deletes its row (`DELETE ... RETURNING`), settle or expiry.
Every transaction touches counters in (subject, period) order, so two never deadlock.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime

from chatbot.migrations import apply_migrations
from chatbot.policy.limits import Limits, LimitsConfig, utc_day, utc_month
from chatbot.policy.quotas import (
    DEFAULT_LEASE_S,
    UNLIMITED,
    AuditEntry,
    Counter,
    Hold,
    QuotaStore,
    Reservation,
    TokenPrice,
    UsageRow,
    UsageTotal,
)
from chatbot.postgres import ConnectionPool

MIGRATIONS = [
    "CREATE TABLE IF NOT EXISTS quota_counters (subject text NOT NULL, period text NOT NULL,"
    " used float8 NOT NULL DEFAULT 0, held float8 NOT NULL DEFAULT 0,"
    " last_grant float8 NOT NULL DEFAULT 0, PRIMARY KEY (subject, period))",
    "CREATE TABLE IF NOT EXISTS quota_holds (id text PRIMARY KEY, user_id text NOT NULL,"
    " expires_at timestamptz NOT NULL, holds jsonb NOT NULL)",
    "CREATE INDEX IF NOT EXISTS quota_holds_expiry ON quota_holds (user_id, expires_at)",
    "CREATE TABLE IF NOT EXISTS quota_usage (id bigserial PRIMARY KEY, user_id text NOT NULL,"
    " key_id text, model text NOT NULL, day date NOT NULL, prompt_tokens integer NOT NULL,"
    " completion_tokens integer NOT NULL, cost_usd float8 NOT NULL,"
    " created_at timestamptz NOT NULL DEFAULT now())",
    "CREATE INDEX IF NOT EXISTS quota_usage_user_day ON quota_usage (user_id, day)",
    "CREATE INDEX IF NOT EXISTS quota_usage_day ON quota_usage (day)",
    "CREATE TABLE IF NOT EXISTS quota_limits (scope text PRIMARY KEY, limits jsonb NOT NULL,"
    " updated_at timestamptz NOT NULL DEFAULT now())",
    "CREATE TABLE IF NOT EXISTS audit_log (id bigserial PRIMARY KEY, at timestamptz NOT NULL,"
    " actor text NOT NULL, action text NOT NULL, target text NOT NULL,"
    " before jsonb NOT NULL, after jsonb NOT NULL)",
]

_TAKE = """
INSERT INTO quota_counters AS c (subject, period, held, last_grant)
SELECT %(subject)s, %(period)s, least(%(want)s, %(limit)s), least(%(want)s, %(limit)s)
WHERE %(limit)s >= %(minimum)s
ON CONFLICT (subject, period) DO UPDATE SET
    last_grant = least(%(want)s, %(limit)s - c.used - c.held),
    held = c.held + least(%(want)s, %(limit)s - c.used - c.held)
WHERE %(limit)s - c.used - c.held >= %(minimum)s
RETURNING c.last_grant
"""

_COUNT_REQUEST = """
INSERT INTO quota_counters AS c (subject, period, used) SELECT %(subject)s, %(period)s, 1 WHERE %(limit)s >= 1
ON CONFLICT (subject, period) DO UPDATE SET used = c.used + 1 WHERE c.used + 1 <= %(limit)s
RETURNING c.used
"""

_CHANGE = """
INSERT INTO quota_counters AS c (subject, period, used, held) VALUES (%(subject)s, %(period)s, %(used)s, 0)
ON CONFLICT (subject, period) DO UPDATE SET
    used = c.used + %(used)s, held = greatest(c.held - %(released)s, 0)
"""


def _holds_json(holds: list[Hold]) -> str:
    return json.dumps([{"subject": h.subject, "period": h.period, "amount": h.amount} for h in holds])


class PostgresQuotaStore(QuotaStore):
    def __init__(
        self,
        pool: ConnectionPool,
        defaults: LimitsConfig | None = None,
        *,
        lease_s: float = DEFAULT_LEASE_S,
        clock: Callable[[], datetime] | None = None,
        migrate: bool = True,
    ):
        super().__init__(defaults, lease_s=lease_s, **({"clock": clock} if clock else {}))
        self._pool = pool
        if migrate:
            with pool.connection() as conn:
                apply_migrations(conn, "quotas", MIGRATIONS)

    # -- admit and settle ---------------------------------------------------------------------

    def _reserve(
        self,
        user_id: str,
        reservation_id: str,
        counters: list[Counter],
        *,
        prompt_tokens: int,
        max_new_tokens: int,
        price: TokenPrice,
        now: datetime,
        expires_at: datetime,
    ) -> tuple[int, list[Hold]]:
        self._give_back_expired(user_id, now)
        counters = sorted(counters, key=lambda c: (c.subject, c.period))
        new_tokens = max_new_tokens
        with self._pool.transaction() as conn, conn.cursor() as cur:
            taken: list[tuple[Counter, float]] = []
            for counter in counters:
                limit = UNLIMITED if counter.limit is None else counter.limit
                params = {"subject": counter.subject, "period": counter.period, "limit": limit}
                if counter.kind == "requests":
                    cur.execute(_COUNT_REQUEST, params)
                    if cur.fetchone() is None:
                        raise self._refused(cur, counter, now)
                    continue
                want, minimum = self.wanted(counter, prompt_tokens, new_tokens, price)
                cur.execute(_TAKE, {**params, "want": want, "minimum": minimum})
                row = cur.fetchone()
                if row is None:
                    raise self._refused(cur, counter, now)
                taken.append((counter, row[0]))
                new_tokens = self.new_tokens_within(counter, row[0], prompt_tokens, price, new_tokens)
            holds = []
            for counter, granted in taken:  # counters taken before a later one clipped the answer
                final, _ = self.wanted(counter, prompt_tokens, new_tokens, price)
                if granted - final > 1e-12:
                    cur.execute(
                        "UPDATE quota_counters SET held = greatest(held - %s, 0) WHERE subject = %s AND period = %s",
                        (granted - final, counter.subject, counter.period),
                    )
                holds.append(Hold(counter.subject, counter.period, min(granted, final)))
            cur.execute(
                "INSERT INTO quota_holds (id, user_id, expires_at, holds) VALUES (%s, %s, %s, %s)",
                (reservation_id, user_id, expires_at, _holds_json(holds)),
            )
        return new_tokens, holds

    def _refused(self, cur, counter: Counter, now: datetime):
        cur.execute(
            "SELECT used + held FROM quota_counters WHERE subject = %s AND period = %s",
            (counter.subject, counter.period),
        )
        row = cur.fetchone()
        return self.refusal(counter, row[0] if row else 0.0, now)

    def _give_back_expired(self, user_id: str, now: datetime) -> None:
        with self._pool.transaction() as conn, conn.cursor() as cur:
            cur.execute(
                "DELETE FROM quota_holds WHERE user_id = %s AND expires_at <= %s RETURNING holds",
                (user_id, now),
            )
            released: dict[tuple[str, str], float] = {}
            for (holds,) in cur.fetchall():
                for hold in holds:
                    key = (hold["subject"], hold["period"])
                    released[key] = released.get(key, 0.0) + float(hold["amount"])
            for (subject, period), amount in sorted(released.items()):
                cur.execute(_CHANGE, {"subject": subject, "period": period, "used": 0, "released": amount})

    def _settle(
        self, reservation: Reservation, row: UsageRow | None, subjects: list[str], now: datetime
    ) -> None:
        with self._pool.transaction() as conn, conn.cursor() as cur:
            cur.execute("DELETE FROM quota_holds WHERE id = %s RETURNING holds", (reservation.id,))
            found = cur.fetchone()  # None: it expired and was given back already
            changes: dict[tuple[str, str], list[float]] = {}  # (subject, period) -> [used, released]
            for hold in found[0] if found else []:
                changes.setdefault((hold["subject"], hold["period"]), [0.0, 0.0])[1] += float(hold["amount"])
            if row is not None:  # None: the hold is given back and nothing was used
                for subject in subjects:
                    tokens = row.prompt_tokens + row.completion_tokens
                    changes.setdefault((subject, f"day:{utc_day(now)}"), [0.0, 0.0])[0] += tokens
                    changes.setdefault((subject, f"month:{utc_month(now)}"), [0.0, 0.0])[0] += row.cost_usd
            # The counters' changes and the usage row go in one round trip (psycopg2 sends a
            # query as text, so several statements may share it): a settle is two round trips
            # and a commit, whatever the number of counters.
            statements = [
                cur.mogrify(
                    _CHANGE, {"subject": subject, "period": period, "used": used, "released": released}
                )
                for (subject, period), (used, released) in sorted(changes.items())
            ]
            if row is not None:
                statements.append(
                    cur.mogrify(
                        "INSERT INTO quota_usage (user_id, key_id, model, day, prompt_tokens,"
                        " completion_tokens, cost_usd) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                        (
                            row.user_id,
                            row.key_id,
                            row.model,
                            row.day,
                            row.prompt_tokens,
                            row.completion_tokens,
                            row.cost_usd,
                        ),
                    )
                )
            if statements:
                cur.execute(b";\n".join(statements))

    def used(self, subject: str, period: str) -> float:
        with self._pool.connection() as conn, conn.cursor() as cur:
            cur.execute(
                "SELECT used + held FROM quota_counters WHERE subject = %s AND period = %s", (subject, period)
            )
            row = cur.fetchone()
            conn.rollback()
        return float(row[0]) if row else 0.0

    # -- limits and audit ---------------------------------------------------------------------

    def stored_limits(self) -> dict[str, Limits]:
        with self._pool.connection() as conn, conn.cursor() as cur:
            cur.execute("SELECT scope, limits FROM quota_limits")
            rows = cur.fetchall()
            conn.rollback()
        return {scope: Limits.model_validate(limits) for scope, limits in rows}

    def _put_limits(self, scope: str, limits: Limits) -> None:
        with self._pool.transaction() as conn, conn.cursor() as cur:
            cur.execute(
                "INSERT INTO quota_limits (scope, limits) VALUES (%s, %s) ON CONFLICT (scope) DO UPDATE"
                " SET limits = EXCLUDED.limits, updated_at = now()",
                (scope, json.dumps(limits.given())),
            )

    def record(self, entry: AuditEntry) -> None:
        with self._pool.transaction() as conn, conn.cursor() as cur:
            cur.execute(
                "INSERT INTO audit_log (at, actor, action, target, before, after) VALUES (%s, %s, %s, %s, %s, %s)",
                (
                    entry.at,
                    entry.actor,
                    entry.action,
                    entry.target,
                    json.dumps(entry.before),
                    json.dumps(entry.after),
                ),
            )

    def audit_log(self, limit: int = 500) -> list[AuditEntry]:
        with self._pool.connection() as conn, conn.cursor() as cur:
            cur.execute(
                "SELECT at, actor, action, target, before, after FROM audit_log ORDER BY at DESC, id DESC LIMIT %s",
                (limit,),
            )
            rows = cur.fetchall()
            conn.rollback()
        return [
            AuditEntry(
                at=at.astimezone(UTC), actor=actor, action=action, target=target, before=before, after=after
            )
            for at, actor, action, target, before, after in rows
        ]

    # -- usage --------------------------------------------------------------------------------

    def _totals(self, sql: str, params: tuple, columns: tuple[str, ...]) -> list[UsageTotal]:
        with self._pool.connection() as conn, conn.cursor() as cur:
            cur.execute(sql, params)
            rows = cur.fetchall()
            conn.rollback()
        totals = []
        for row in rows:
            named = dict(zip(columns, row, strict=True))
            if isinstance(named.get("day"), date):
                named["day"] = named["day"].isoformat()
            totals.append(UsageTotal(**named))
        return totals

    _SUMS = "count(*), sum(prompt_tokens), sum(completion_tokens), sum(cost_usd)"
    _SUM_COLUMNS = ("answers", "prompt_tokens", "completion_tokens", "cost_usd")

    def usage_by_day_and_model(self, user_id: str, first_day: str, last_day: str) -> list[UsageTotal]:
        return self._totals(
            f"SELECT day, model, {self._SUMS} FROM quota_usage WHERE user_id = %s AND day BETWEEN %s AND %s"
            " GROUP BY day, model ORDER BY day, model",
            (user_id, first_day, last_day),
            ("day", "model", *self._SUM_COLUMNS),
        )

    def usage_by_user_and_model(self, first_day: str, last_day: str) -> list[UsageTotal]:
        return self._totals(
            f"SELECT user_id, model, {self._SUMS} FROM quota_usage WHERE day BETWEEN %s AND %s"
            " GROUP BY user_id, model ORDER BY user_id, model",
            (first_day, last_day),
            ("user_id", "model", *self._SUM_COLUMNS),
        )

    def usage_by_key(self, user_id: str, first_day: str, last_day: str) -> list[UsageTotal]:
        return self._totals(
            f"SELECT key_id, {self._SUMS} FROM quota_usage WHERE user_id = %s AND key_id IS NOT NULL"
            " AND day BETWEEN %s AND %s GROUP BY key_id ORDER BY key_id",
            (user_id, first_day, last_day),
            ("key_id", *self._SUM_COLUMNS),
        )

    def add_usage_rows(self, rows: list[UsageRow]) -> None:
        """Usage rows written directly (imports, the benchmark's 120k rows), counters untouched."""
        from psycopg2.extras import execute_values

        with self._pool.transaction() as conn, conn.cursor() as cur:
            execute_values(
                cur,
                "INSERT INTO quota_usage (user_id, key_id, model, day, prompt_tokens, completion_tokens, cost_usd)"
                " VALUES %s",
                [
                    (r.user_id, r.key_id, r.model, r.day, r.prompt_tokens, r.completion_tokens, r.cost_usd)
                    for r in rows
                ],
                page_size=1000,
            )
