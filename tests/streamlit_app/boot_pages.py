"""Starts every page of the web app, signed in, and prints what each drew as one JSON line.

Run by tests/streamlit_app/test_image.py with the python of a venv that holds only the image's
requirements, from a folder that holds only the files the image copies: it imports nothing of
the project but what it is run beside.

    python boot_pages.py local USER PASSWORD   # streamlit-authenticator over the users file
    python boot_pages.py oidc                  # st.login (Cognito), a signed-in st.user
"""

from __future__ import annotations

import base64
import json
import sys
import time
from pathlib import Path

from streamlit.testing.v1 import AppTest

APP = Path.cwd() / "streamlit_app" / "streamlit_app.py"
PAGES = sorted(path.name for path in (APP.parent / "app_pages").glob("*.py"))


def unsigned_id_token(claims: dict) -> str:
    """An ID token as st.user.tokens holds it (the app reads its expiry; the chat API checks it)."""
    encode = lambda part: base64.urlsafe_b64encode(json.dumps(part).encode()).rstrip(b"=").decode()  # noqa: E731
    return f"{encode({'alg': 'none'})}.{encode(claims)}.signature"


def signed_in(mode: str, argv: list[str]) -> AppTest:
    app = AppTest.from_file(str(APP), default_timeout=120)
    if mode == "oidc":
        claims = {"sub": "boot-sub", "email": "boot@example.com", "cognito:groups": ["admin"]}
        token = unsigned_id_token({**claims, "exp": int(time.time()) + 3600})
        app.user = {"is_logged_in": True, **claims, "tokens": {"id": token}}
        return app.run()
    user, password = argv
    app.run()
    app.text_input[0].input(user)
    app.text_input[1].input(password)
    next(button for button in app.button if button.label == "Sign in").click()
    return app.run()


def drawn(app: AppTest) -> list[str]:
    """What the page's main area shows: each element's kind, with its key or value."""
    return [
        f"{node.type}:{getattr(node, 'key', None) or str(getattr(node, 'value', ''))[:80]}"
        for node in app.main
        if node.type not in ("block", "event")
    ]


def main(argv: list[str]) -> None:
    mode = argv[0]
    app = signed_in(mode, argv[1:])
    report = {"mode": mode, "sign_in_exceptions": [str(e.value) for e in app.exception], "pages": {}}
    for page in PAGES:
        try:
            app.switch_page(f"app_pages/{page}")
        except ValueError:  # not in this user's navigation (Users: local administrators only)
            report["pages"][page] = {"offered": False, "exceptions": [], "drawn": []}
            continue
        app.run()
        report["pages"][page] = {
            "offered": True,
            "exceptions": [str(exception.value) for exception in app.exception],
            "drawn": drawn(app),
        }
    print(json.dumps(report))


if __name__ == "__main__":
    main(sys.argv[1:])
