from __future__ import annotations

import stat
import subprocess
import sys
import time

import jwt
import pytest

from streamlit_app.users import UsersError, UsersFile
from tests.servers import ROOT


def test_adding_a_user_stores_a_bcrypt_hash_and_never_the_password(tmp_path):
    users = UsersFile(tmp_path / "users.yaml")
    assert users.add("Alice", "s3cret-enough") is True
    text = users.path.read_text()
    assert "s3cret-enough" not in text
    assert "$2b$" in text  # bcrypt
    assert users.names() == ["alice"]  # names are kept lower-case, as streamlit-authenticator compares them
    assert users.check("alice", "s3cret-enough")
    assert not users.check("alice", "wrong password")


def test_the_file_is_readable_by_its_owner_only_as_it_holds_the_cookie_key(tmp_path):
    users = UsersFile(tmp_path / "users.yaml")
    users.add("alice", "s3cret-enough")
    assert stat.S_IMODE(users.path.stat().st_mode) == 0o600
    assert len(users.cookie_key()) >= 32


def test_adding_an_existing_user_resets_the_password_and_keeps_the_cookie_key(tmp_path):
    users = UsersFile(tmp_path / "users.yaml")
    users.add("alice", "first password")
    key = users.cookie_key()
    assert users.add("alice", "second password") is False
    assert users.check("alice", "second password")
    assert not users.check("alice", "first password")
    assert users.cookie_key() == key


@pytest.mark.parametrize(
    ("name", "password", "reason"),
    [
        ("bad name!", "long enough", "cannot be a user name"),
        ("", "long enough", "cannot be a user name"),
        ("alice", "short", "too short"),
    ],
)
def test_unusable_names_and_passwords_are_refused_with_the_reason(tmp_path, name, password, reason):
    with pytest.raises(UsersError, match=reason):
        UsersFile(tmp_path / "users.yaml").add(name, password)
    assert not (tmp_path / "users.yaml").exists()


def test_the_command_adds_a_user_with_the_password_from_stdin(tmp_path):
    users_file = tmp_path / "users.yaml"
    result = subprocess.run(
        [sys.executable, "-m", "streamlit_app.users", "add", "bob", "--password-stdin"],
        input="from stdin 123\n",
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={"CHATBOT_USERS_FILE": str(users_file), "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    assert f"Added bob (administrator) in {users_file}" in result.stdout, "the first user manages the others"
    assert UsersFile(users_file).check("bob", "from stdin 123")


def test_the_command_explains_a_refused_password(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "streamlit_app.users", "add", "bob", "--password-stdin"],
        input="short\n",
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={"CHATBOT_USERS_FILE": str(tmp_path / "users.yaml"), "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 1
    assert "too short: use at least 8 characters" in result.stderr


def test_the_first_account_is_an_administrator_and_the_next_ones_are_not(tmp_path):
    users = UsersFile(tmp_path / "users.yaml")
    users.create_first("Ada", "first password")
    users.add("bob", "bobs password")
    assert [(user.name, user.admin) for user in users.listing()] == [("ada", True), ("bob", False)]
    users.add("bob", "a new password")
    assert not users.is_admin("bob"), "a password reset leaves the role as it was"
    users.add("bob", "a new password", admin=True)
    assert users.is_admin("bob")


def test_only_one_first_account_can_be_made(tmp_path):
    users = UsersFile(tmp_path / "users.yaml")
    users.create_first("ada", "first password")
    with pytest.raises(UsersError, match="The first account exists already"):
        users.create_first("mallory", "second first")
    assert users.names() == ["ada"]


def test_a_user_is_removed_but_never_the_last_administrator(tmp_path):
    users = UsersFile(tmp_path / "users.yaml")
    users.create_first("ada", "first password")
    users.add("bob", "bobs password")
    users.remove("bob")
    assert users.names() == ["ada"]
    with pytest.raises(UsersError, match="ada is the last administrator"):
        users.remove("ada")
    with pytest.raises(UsersError, match="There is no user 'carol'"):
        users.remove("carol")


def test_the_command_removes_a_user_and_lists_the_roles(tmp_path):
    users_file = tmp_path / "users.yaml"
    UsersFile(users_file).create_first("ada", "first password")
    UsersFile(users_file).add("bob", "bobs password")

    def command(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "streamlit_app.users", *args],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            env={"CHATBOT_USERS_FILE": str(users_file), "PATH": "/usr/bin:/bin"},
        )

    assert command("list").stdout.split("\n")[:2] == ["ada (administrator)", "bob"]
    assert "Removed bob" in command("remove", "bob").stdout
    refused = command("remove", "ada")
    assert refused.returncode == 1
    assert "last administrator" in refused.stderr


def test_a_sign_out_refuses_every_remember_me_cookie_made_before_it(tmp_path):
    users = UsersFile(tmp_path / "users.yaml")
    users.add("alice", "s3cret-enough")
    users.add("bob", "s3cret-enough")
    made_before = users.remember_me("alice").expires_at
    assert users.accepts_cookie("alice", made_before)
    users.sign_out_everywhere("alice")
    assert not users.accepts_cookie("alice", made_before)
    assert users.accepts_cookie("alice", users.remember_me("alice").expires_at)  # a cookie made after it
    assert users.accepts_cookie("bob", made_before)  # nobody else's


def test_a_remember_me_cookie_names_its_user_and_expiry_signed_with_the_files_key(tmp_path):
    users = UsersFile(tmp_path / "users.yaml")
    users.add("alice", "s3cret-enough")
    cookie = users.remember_me("alice")
    claims = jwt.decode(cookie.value, users.cookie_key(), algorithms=["HS256"])
    assert claims == {"username": "alice", "exp_date": cookie.expires_at}  # streamlit-authenticator's layout
    assert cookie.name == users.cookie_name()
    assert 7 * 86400 - 60 < cookie.expires_at - time.time() <= 7 * 86400  # the file's expiry_days


def test_a_new_password_or_a_removal_ends_the_users_remember_me_cookies(tmp_path):
    users = UsersFile(tmp_path / "users.yaml")
    users.add("alice", "s3cret-enough")
    users.add("bob", "s3cret-enough")
    made_before = time.time() + 7 * 86400
    users.add("alice", "a new password")
    assert not users.accepts_cookie("alice", made_before)
    users.remove("bob")
    assert not users.accepts_cookie("bob", made_before)
