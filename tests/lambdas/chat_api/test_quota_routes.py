"""/usage and /admin/{usage,limits,audit}: everyone reads their own usage; administrators read
the organisation's, set limits and read who changed what. The role is checked by the API."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from chatbot.api.local_tokens import local_secret
from chatbot.api.users import UsersFile
from chatbot.policy.postgres_quotas import PostgresQuotaStore
from chatbot.policy.quotas import TokenPrice
from chatbot.postgres import ConnectionPool, create_database
from lambdas.chat_api.auth import LocalTokens
from tests.lambdas.chat_api.conftest import api_env
from tests.servers import chat_api_server

DATABASE = "quota_routes_tests"


@pytest.fixture(scope="module")
def quota_api(model_server_url: str, postgres_server_url: str, secret_file: Path) -> Iterator[str]:
    env = api_env(
        model_server_url,
        postgres_server_url,
        secret_file,
        DATABASE,
        CHATBOT_LIMITS='{"user": {"tokens_per_day": 5000}, "admin": {}}',
    )
    UsersFile(secret_file.parent / "users.yaml").add("root", "roots password")  # an administrator
    UsersFile(secret_file.parent / "users.yaml").add("uma", "umas password")
    with chat_api_server(env) as url:
        yield url


@pytest.fixture(scope="module")
def ledger(postgres_server_url: str, quota_api: str) -> Iterator[PostgresQuotaStore]:
    """The same ledger the API keeps, opened from here to put usage in."""
    pool = ConnectionPool(create_database(postgres_server_url, DATABASE), max_connections=4)
    yield PostgresQuotaStore(pool)
    pool.close()


def client(api_url: str, secret_file: Path, user: str, *roles: str) -> httpx.Client:
    token = LocalTokens(local_secret(secret_file)).issue(user, roles=roles)
    return httpx.Client(base_url=api_url, headers={"Authorization": f"Bearer {token}"}, timeout=60)


def test_a_user_reads_their_usage_by_model_and_day_with_their_limits(
    quota_api: str, ledger: PostgresQuotaStore, secret_file: Path
):
    price = TokenPrice(input=0.001, output=0.002)
    for model in ("tiny", "tiny", "small"):
        ledger.settle(
            ledger.admit("uma", model=model, prompt_tokens=10, max_new_tokens=30, price=price), 10, 20
        )
    with client(quota_api, secret_file, "uma") as uma:
        report = uma.get("/usage", params={"period": "day"})
        assert report.status_code == 200, report.text
        body = report.json()
    assert (body["prompt_tokens"], body["completion_tokens"]) == (30, 60)
    assert body["cost_usd"] == pytest.approx(3 * (0.01 + 0.04))
    assert {m["model"]: m["answers"] for m in body["by_model"]} == {"small": 1, "tiny": 2}
    assert body["limits"]["tokens_per_day"] == 5000, "the stack's default for everyone"
    tokens = next(s for s in body["standing"] if s["limit"] == "tokens_per_day")
    assert (tokens["used"], tokens["remaining"]) == (90, 4910)
    assert tokens["resets_at"].endswith("T00:00:00Z"), "midnight UTC"


def test_an_administrator_sets_limits_and_the_change_is_audited(quota_api: str, secret_file: Path):
    with (
        client(quota_api, secret_file, "root", "admin") as root,
        client(quota_api, secret_file, "uma") as uma,
    ):
        assert root.put("/admin/limits/user", json={"tokens_per_day": 100}).status_code == 200
        assert uma.get("/usage").json()["limits"]["tokens_per_day"] == 100
        saved = root.put("/admin/users/uma/limits", json={"tokens_per_day": None, "usd_per_month": 2.5})
        assert saved.status_code == 200, saved.text
        limits = uma.get("/usage").json()["limits"]
        assert (limits["tokens_per_day"], limits["usd_per_month"]) == (None, 2.5), "the override replaces"
        overview = root.get("/admin/limits").json()
        assert overview["roles"]["user"]["tokens_per_day"] == 100
        assert overview["users"]["uma"]["usd_per_month"] == 2.5
        log = root.get("/admin/audit").json()
        assert (log[0]["actor"], log[0]["target"], log[0]["after"]) == (
            "root",
            "user:uma",
            {"tokens_per_day": None, "usd_per_month": 2.5},
        )
        exported = root.get("/admin/audit", params={"format": "csv"})
        assert exported.headers["content-type"].startswith("text/csv")
        assert "user:uma" in exported.text


def test_bad_limits_are_refused_with_what_to_change(quota_api: str, secret_file: Path):
    with client(quota_api, secret_file, "root", "admin") as root:
        for path, body in [
            ("/admin/limits/user", {"tokens_per_day": -5}),
            ("/admin/limits/user", {"tokens_per_week": 5}),
            ("/admin/limits/user", {"tokens_per_day": "lots"}),
            ("/admin/users/UPPER%20CASE!/limits", {"tokens_per_day": 5}),
            ("/admin/limits/%3Cscript%3E", {}),
        ]:
            refused = root.put(path, json=body)
            assert refused.status_code == 422, (path, refused.text)
            assert refused.json()["error"]["message"]


def test_the_organisation_view_is_for_administrators_sorted_and_as_csv(
    quota_api: str, ledger: PostgresQuotaStore, secret_file: Path
):
    ledger.settle(ledger.admit("=cmd", model="tiny", prompt_tokens=1, max_new_tokens=1), 1, 1)
    with client(quota_api, secret_file, "uma") as uma:
        for path in ("/admin/usage", "/admin/limits", "/admin/audit"):
            assert uma.get(path).status_code == 403
        assert uma.put("/admin/limits/user", json={}).status_code == 403
        assert uma.put("/admin/users/uma/limits", json={}).status_code == 403
    with client(quota_api, secret_file, "root", "admin") as root:
        by_tokens = root.get("/admin/usage", params={"sort": "tokens"}).json()
        assert by_tokens["users"][0]["user_id"] == "uma"
        assert {m["model"] for m in by_tokens["by_model"]} >= {"tiny", "small"}
        by_name = root.get("/admin/usage", params={"sort": "user"}).json()
        assert [u["user_id"] for u in by_name["users"]] == sorted(u["user_id"] for u in by_name["users"])
        exported = root.get("/admin/usage", params={"format": "csv"}).text
    rows = list(csv.reader(io.StringIO(exported)))
    assert rows[0] == ["user", "answers", "prompt_tokens", "completion_tokens", "cost_usd"]
    assert ["'=cmd", "1", "1", "1", "0.000000"] in rows, "a name is never a spreadsheet formula"


def test_adding_and_removing_users_is_audited_without_passwords(quota_api: str, secret_file: Path):
    with client(quota_api, secret_file, "root", "admin") as root:
        assert root.put("/users/temp", json={"password": "temps password"}).status_code == 200
        assert root.delete("/users/temp").status_code == 204
        log = root.get("/admin/audit").json()
    assert [(e["action"], e["target"]) for e in log[:2]] == [
        ("remove_user", "user:temp"),
        ("add_user", "user:temp"),
    ]
    assert "temps password" not in str(log)
