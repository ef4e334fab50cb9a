"""The Usage page (everyone's own usage and limits; the organisation for administrators), the
limits form of the Users page and the keys' month on Settings, against the real chat API."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from chatbot.api.quotas import Limits
from chatbot.api.users import UsersFile
from chatbot.policy.postgres_quotas import PostgresQuotaStore
from chatbot.policy.quotas import TokenPrice
from chatbot.postgres import ConnectionPool, create_database
from tests.streamlit_app.conftest import new_app, sign_in
from tests.streamlit_app.stack import UiStack


@pytest.fixture(scope="module")
def ledger(stack: UiStack, postgres_server_url: str) -> Iterator[PostgresQuotaStore]:
    """The chat API's own ledger (the stack's database), to put usage in as answers would."""
    pool = ConnectionPool(create_database(postgres_server_url, "ui_test_usage_page"), max_connections=4)
    yield PostgresQuotaStore(pool)
    pool.close()


def open_page(app, page: str):
    app.switch_page(f"app_pages/{page}.py")
    return app.run()


def texts(app) -> str:
    return "\n".join(str(block.value) for block in [*app.markdown, *app.caption])


def test_a_user_sees_their_usage_cost_and_what_remains(stack: UiStack, ledger: PostgresQuotaStore):
    stack.add_user("root")  # the first account: an administrator
    stack.add_user("vera")
    ledger.set_limits("user:vera", Limits(tokens_per_day=1000), "root")
    price = TokenPrice(input=0.001, output=0.002)
    for model in ("tiny", "small"):
        ledger.settle(
            ledger.admit("vera", model=model, prompt_tokens=100, max_new_tokens=50, price=price), 100, 50
        )
    app = open_page(sign_in(new_app(), "vera"), "usage")
    assert not app.exception
    assert [header.value for header in app.header] == ["Usage"]
    metrics = {metric.label: metric.value for metric in app.metric}
    assert metrics == {"Tokens in": "200", "Tokens out": "100", "Cost": "$0.4000"}
    assert "**Tokens today**: 700 left of 1,000" in texts(app)
    assert "The organisation" not in [sub.value for sub in app.subheader], "for administrators only"


def test_an_administrator_sees_the_organisation_and_sets_limits_on_the_users_page(
    stack: UiStack, ledger: PostgresQuotaStore
):
    UsersFile(stack.users_file).add("wes", "correct horse battery", admin=True)
    ledger.settle(ledger.admit("xena", model="tiny", prompt_tokens=10, max_new_tokens=10), 10, 10)
    app = open_page(sign_in(new_app(), "wes"), "usage")
    assert not app.exception
    assert "The organisation" in [sub.value for sub in app.subheader]
    top_users = next(table.value for table in app.dataframe if "user" in table.value.columns)
    assert "xena" in list(top_users["user"])

    app = open_page(app, "users")
    app.selectbox(key="users_limits_whose").set_value("user: wes")
    app = app.run()
    app.text_input(key="users_limit_tokens_per_day_user: wes").input("12345")
    app = next(b for b in app.button if b.label == "Save limits").click().run()
    assert not app.exception
    assert "Saved the limits of user wes." in [s.value for s in app.success]
    assert ledger.limits_of("wes", ["admin"])[0].tokens_per_day == 12345
    app.text_input(key="users_limit_usd_per_month_user: wes").input("lots")
    app = next(b for b in app.button if b.label == "Save limits").click().run()
    assert any("type a number" in str(error.value) for error in app.error)
