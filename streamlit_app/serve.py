"""`python -m streamlit_app.serve [streamlit run options]`: run the web app (the image's entry
point; locally, launcher/web_app.py runs it so that it ends with its parent).

- In the container: when AUTH_CLIENT_ID is set, writes the `[auth]` section `st.login` reads
  (Cognito as the OIDC provider) into ~/.streamlit/secrets.toml from the task's environment
  and secrets, then starts Streamlit. Nothing secret is baked into the image.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from streamlit_app.settings import UiSettings

#: Streamlit's server with the app's own cookie route (asgi.py), running streamlit_app.py's pages.
APP = Path(__file__).resolve().parent / "asgi.py"

#: secrets.toml's [auth] keys and the variables they come from: the app's settings model names
#: them once (streamlit_app/settings.py); the Pulumi program writes them (infra/components/web_service.py).
AUTH_FROM_ENV = {
    key: UiSettings.variable(f"auth_{key}")
    for key in ("redirect_uri", "client_id", "client_secret", "server_metadata_url", "cookie_secret")
}


class MissingSettingError(RuntimeError):
    pass


def auth_secrets(env: dict[str, str]) -> str:
    """The [auth] section for `st.login`; the ID token is exposed so it can go to the chat API."""
    missing = [name for name in AUTH_FROM_ENV.values() if not env.get(name)]
    if missing:
        raise MissingSettingError(f"Cognito sign-in needs these environment variables: {', '.join(missing)}")
    lines = ["[auth]", *(f"{key} = {_toml_string(env[name])}" for key, name in AUTH_FROM_ENV.items())]
    lines.append('expose_tokens = "id"')
    # Streamlit sends prompt=select_account unless told otherwise; Cognito's login pages take
    # prompt=login or none. Sign-in is only offered to someone signed out, so "login" costs nothing.
    lines += ["", "[auth.client_kwargs]", 'scope = "openid email profile"', 'prompt = "login"']
    return "\n".join(lines) + "\n"


def _toml_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_auth_secrets(env: dict[str, str], home: Path) -> Path:
    target = home / ".streamlit" / "secrets.toml"
    target.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as out:
        out.write(auth_secrets(env))
    return target


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    if os.environ.get("AUTH_CLIENT_ID"):
        write_auth_secrets(dict(os.environ), Path.home())
    from streamlit.web import cli

    sys.argv = ["streamlit", "run", str(APP), *args]
    sys.exit(cli.main())


if __name__ == "__main__":
    main()
