"""The Users page's limits form: whose limits (a role or a user), and the four fields."""

from __future__ import annotations

from typing import Any

import streamlit as st

from chatbot.api.quotas import LIMIT_FIELDS, Limits
from streamlit_app.api import ApiError
from streamlit_app.quotas_client import QuotasApi

LABELS = {
    "tokens_per_day": "Tokens per day",
    "usd_per_month": "Dollars per month",
    "concurrent_streams": "Answers at once",
    "requests_per_minute": "Requests per minute",
}


def parse_limits(texts: dict[str, str]) -> Limits:
    """Empty: not given; `unlimited`: null; else a number. Raises ValueError with what to type."""
    values: dict[str, Any] = {}
    for field, text in texts.items():
        text = text.strip().lower()
        if not text:
            continue
        if text in ("unlimited", "none", "null"):
            values[field] = None
            continue
        try:
            number = float(text)
        except ValueError:
            raise ValueError(f"{LABELS[field]}: type a number, `unlimited`, or leave it empty.") from None
        values[field] = number if field == "usd_per_month" else int(number)
    return Limits.model_validate(values)


def _shown(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def render_limits_form(quotas: QuotasApi, user_names: list[str]) -> None:
    try:
        overview = quotas.limits()
    except ApiError as exc:
        st.error(str(exc))
        return
    roles = sorted({"user", "admin", *overview.roles})
    choices = [f"role: {role}" for role in roles] + [f"user: {name}" for name in user_names]
    whose = st.selectbox("Whose limits", choices, key="users_limits_whose")
    kind, _, name = whose.partition(": ")
    current = (overview.roles if kind == "role" else overview.users).get(name)
    with st.form(f"users_limits_{whose}"):
        texts = {
            field: st.text_input(
                LABELS[field],
                value=_shown(getattr(current, field))
                if current and field in current.model_fields_set
                else "",
                key=f"users_limit_{field}_{whose}",
            )
            for field in LIMIT_FIELDS
        }
        save = st.form_submit_button("Save limits", icon=":material/speed:")
    if save:
        try:
            limits = parse_limits(texts)
            if kind == "role":
                quotas.set_role_limits(name, limits)
            else:
                quotas.set_user_limits(name, limits)
        except (ValueError, ApiError) as exc:
            st.error(str(exc))
        else:
            st.session_state["users_notice"] = f"Saved the limits of {kind} {name}."
            st.rerun()
