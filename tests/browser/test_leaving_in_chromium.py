"""Leaving, in a real browser (issue 21): the administrator removes a user together with their
data on the Users page, confirming by typing the name; the notice says what went, and the Usage
page's audit log shows the deletion.

Each step leaves a screenshot in test-artifacts/browser/<test>/."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import httpx
from playwright.sync_api import Page, expect

from chatbot.api.local_tokens import local_secret
from chatbot.api.users import UsersFile
from lambdas.chat_api.auth import LocalTokens
from tests.browser.conftest import USER, shot
from tests.browser.support import go_to, main, wait_until_idle
from tests.streamlit_app.stack import UiStack

LEAVER = "leaver"


def test_an_administrator_removes_a_user_with_their_data_and_the_audit_log_shows_it(
    signed_in: Page, stack: UiStack
):
    admin = signed_in  # the session's first account: an administrator
    stack.add_user(LEAVER)
    token = LocalTokens(local_secret(stack.secret_file)).issue(LEAVER)
    made = httpx.post(
        f"{stack.api_url}/api-keys", json={"name": "laptop"}, headers={"Authorization": f"Bearer {token}"}
    )
    assert made.status_code == 201, made.text

    go_to(admin, "Users")
    remove = main(admin).get_by_test_id("stSelectbox").filter(has=admin.get_by_text("User", exact=True))
    remove.locator("input").click()
    admin.keyboard.type(LEAVER)
    admin.keyboard.press("Enter")
    wait_until_idle(admin)
    expect(remove.get_by_role("combobox")).to_have_value(LEAVER)
    main(admin).get_by_text("Also delete their data").click()
    wait_until_idle(admin)
    expect(main(admin).get_by_text("cannot be undone")).to_be_visible()
    expect(main(admin).get_by_role("button", name="Remove")).to_be_disabled()
    confirm = main(admin).get_by_role("textbox", name=f"Type {LEAVER} to confirm")
    confirm.fill(LEAVER)
    confirm.press("Enter")
    wait_until_idle(admin)
    shot(admin, "confirmed")
    main(admin).get_by_role("button", name="Remove").click()
    expect(admin.get_by_text(f"Removed {LEAVER} and deleted their data:")).to_be_visible()
    expect(admin.get_by_text("1 API key")).to_be_visible()
    shot(admin, "removed-with-data")
    assert LEAVER not in UsersFile(stack.users_file).names()

    go_to(admin, "Usage")
    expect(main(admin).get_by_text("Audit log", exact=True)).to_be_visible()
    shot(admin, "audit-log")
    # The table is drawn on a canvas: its rows are read from the page's own export of them.
    with admin.expect_download() as download:
        main(admin).get_by_role("button", name="Download the audit log as CSV").click()
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
    deletion = next(row for row in rows if row["action"] == "delete_user_data")
    assert (deletion["actor"], deletion["target"]) == (USER, f"user:{LEAVER}")
    assert json.loads(deletion["after"])["api_keys"] == 1
    assert any(row["action"] == "remove_user" and row["target"] == f"user:{LEAVER}" for row in rows)
