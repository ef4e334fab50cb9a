"""Item 13: made-up key ids cannot make the API hammer Cognito, nor hold up valid callers.

moto's cognito-idp issues real RS256 ID tokens and serves the pool's key set over HTTP; the spy
below counts (and can hold) the API's requests for that key set."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import jwt
import pytest
import requests

from lambdas.chat_api.auth import AuthError, CognitoTokens
from tests.lambdas.chat_api.test_auth import cognito

__all__ = ["cognito"]


class KeySetRequests:
    """Counts GETs of a JWKS; while `held`, each one waits until released."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch):
        self.count = 0
        self.held = threading.Event()
        self.started = threading.Event()
        self.released = threading.Event()
        real_get = requests.get

        def get(url: str, **kwargs):
            if url.endswith("/.well-known/jwks.json"):
                self.count += 1
                if self.held.is_set():
                    self.started.set()
                    self.released.wait()
            return real_get(url, **kwargs)

        monkeypatch.setattr(requests, "get", get)


def made_up_token(number: int) -> str:
    return jwt.encode({"sub": "mallory"}, "k" * 32, algorithm="HS256", headers={"kid": f"made-up-{number}"})


def test_eighty_made_up_key_ids_fetch_the_key_set_at_most_once(cognito, monkeypatch):
    pool, client, tokens = cognito
    fetches = KeySetRequests(monkeypatch)
    verifier = CognitoTokens("us-east-1", pool, client)
    assert verifier.caller(tokens["IdToken"]).user_id
    assert fetches.count == 1

    def refused(number: int) -> str:
        with pytest.raises(AuthError) as error:
            verifier.caller(made_up_token(number))
        return str(error.value)

    with ThreadPoolExecutor(16) as pool_of_callers:
        messages = list(pool_of_callers.map(refused, [n % 40 for n in range(80)]))
    assert set(messages) == {"The sign-in token was signed by an unknown key. Sign in again."}
    assert fetches.count <= 2, f"{fetches.count} fetches of the key set for 80 made-up tokens"
    assert verifier.caller(tokens["IdToken"]).user_id, "valid tokens still pass"


def test_a_valid_caller_never_waits_behind_a_refresh_for_a_made_up_key(cognito, monkeypatch):
    pool, client, tokens = cognito
    fetches = KeySetRequests(monkeypatch)
    verifier = CognitoTokens("us-east-1", pool, client, refresh_every_s=0)  # every miss may refetch
    verifier.caller(tokens["IdToken"])
    fetches.held.set()

    def attack() -> None:
        with pytest.raises(AuthError):
            verifier.caller(made_up_token(1))

    attacker = threading.Thread(target=attack)
    attacker.start()
    try:
        assert fetches.started.wait(60), "the made-up key id made a refresh"
        verified = threading.Event()
        valid = threading.Thread(target=lambda: (verifier.caller(tokens["IdToken"]), verified.set()))
        valid.start()
        # The refresh is still held: a valid caller that waited for it would never get here.
        assert verified.wait(60), "the valid caller waited behind the refresh"
    finally:
        fetches.released.set()
        attacker.join()
    valid.join()
