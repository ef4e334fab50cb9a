"""Models' runtime settings and presets in Postgres (migration component `model_access`).

- `model_settings`: one row per deployed model an administrator has set (name, settings);
- `model_presets`: one row per preset (name, preset).
Models nobody set have no row: they are enabled for everyone (chatbot.policy.model_access).
"""

from __future__ import annotations

from chatbot.api.model_access import ModelSettings, Preset
from chatbot.migrations import apply_migrations
from chatbot.policy.model_access import ModelAccessStore
from chatbot.postgres import ConnectionPool

MIGRATIONS = [
    "CREATE TABLE IF NOT EXISTS model_settings (name text PRIMARY KEY, settings jsonb NOT NULL,"
    " updated_at timestamptz NOT NULL DEFAULT now())",
    "CREATE TABLE IF NOT EXISTS model_presets (name text PRIMARY KEY, preset jsonb NOT NULL,"
    " updated_at timestamptz NOT NULL DEFAULT now())",
]


class PostgresModelAccessStore(ModelAccessStore):
    def __init__(self, pool: ConnectionPool, *, migrate: bool = True):
        self._pool = pool
        if migrate:
            with pool.connection() as conn:
                apply_migrations(conn, "model_access", MIGRATIONS)

    def _rows(self, sql: str) -> list[tuple]:
        with self._pool.connection() as conn, conn.cursor() as cur:
            cur.execute(sql)
            rows = cur.fetchall()
            conn.rollback()
        return rows

    def stored_models(self) -> dict[str, ModelSettings]:
        rows = self._rows("SELECT name, settings FROM model_settings")
        return {name: ModelSettings.model_validate(settings) for name, settings in rows}

    def put_model(self, name: str, settings: ModelSettings) -> None:
        with self._pool.transaction() as conn, conn.cursor() as cur:
            cur.execute(
                "INSERT INTO model_settings (name, settings) VALUES (%s, %s) ON CONFLICT (name) DO UPDATE"
                " SET settings = EXCLUDED.settings, updated_at = now()",
                (name, settings.model_dump_json()),
            )

    def stored_presets(self) -> dict[str, Preset]:
        rows = self._rows("SELECT name, preset FROM model_presets")
        return {name: Preset.model_validate(preset) for name, preset in rows}

    def put_preset(self, preset: Preset) -> None:
        with self._pool.transaction() as conn, conn.cursor() as cur:
            cur.execute(
                "INSERT INTO model_presets (name, preset) VALUES (%s, %s) ON CONFLICT (name) DO UPDATE"
                " SET preset = EXCLUDED.preset, updated_at = now()",
                (preset.name, preset.model_dump_json()),
            )

    def delete_preset(self, name: str) -> bool:
        with self._pool.transaction() as conn, conn.cursor() as cur:
            cur.execute("DELETE FROM model_presets WHERE name = %s", (name,))
            return cur.rowcount > 0
