"""Usage: what you used and spent, per day and model, and what remains of your limits.
Administrators also see the whole organisation: top users, spending per model, the audit log."""

import streamlit as st

from chatbot.api.quotas import Period, UsageSort
from streamlit_app import context
from streamlit_app.api import ApiError
from streamlit_app.formatting import as_plain_text
from streamlit_app.quotas_client import QuotasApi

PERIODS: list[Period] = ["day", "month"]
SORTS: list[UsageSort] = ["cost", "tokens", "answers", "user"]

LIMIT_LABELS = {
    "tokens_per_day": "Tokens today",
    "usd_per_month": "Dollars this month",
    "concurrent_streams": "Answers at once",
    "requests_per_minute": "Requests this minute",
}

quotas = QuotasApi(context.api())
st.header("Usage")
period = (
    st.segmented_control(
        "Period",
        PERIODS,
        default="month",
        format_func=lambda p: "Today" if p == "day" else "This month",
        key="usage_period",
    )
    or "month"
)

try:
    report = quotas.usage(period)
except ApiError as exc:
    st.error(str(exc))
    st.stop()

tokens_in, tokens_out, cost = st.columns(3)
tokens_in.metric("Tokens in", f"{report.prompt_tokens:,}")
tokens_out.metric("Tokens out", f"{report.completion_tokens:,}")
cost.metric("Cost", f"${report.cost_usd:,.4f}")

st.subheader("Your limits")
for standing in report.standing:
    label = LIMIT_LABELS[standing.limit]
    if standing.value is None:
        st.markdown(f"**{label}**: unlimited ({standing.used:,.4g} used)")
        continue
    resets = f", resets {standing.resets_at:%Y-%m-%d %H:%M} UTC" if standing.resets_at else ""
    st.markdown(
        f"**{label}**: {standing.remaining:,.4g} left of {standing.value:,.4g}{resets}",
    )
    st.progress(min(standing.used / standing.value, 1.0) if standing.value else 1.0)

st.subheader("Per day and model")
if not report.by_day:
    st.info("Nothing used in this period yet.")
else:
    st.bar_chart(
        {
            "day": [t.day for t in report.by_day],
            "model": [as_plain_text(t.model or "") for t in report.by_day],
            "tokens": [t.prompt_tokens + t.completion_tokens for t in report.by_day],
        },
        x="day",
        y="tokens",
        color="model",
    )
    st.dataframe(
        [
            {
                "model": t.model,
                "answers": t.answers,
                "tokens in": t.prompt_tokens,
                "tokens out": t.completion_tokens,
                "cost ($)": round(t.cost_usd, 6),
            }
            for t in report.by_model
        ],
        hide_index=True,
    )

if context.identity().is_admin:
    st.subheader("The organisation")
    sort = st.selectbox("Sort users by", SORTS, key="usage_sort")
    try:
        organisation = quotas.organisation(period, sort)
    except ApiError as exc:
        st.error(str(exc))
        st.stop()
    st.markdown("**Top users**")
    st.dataframe(
        [
            {
                "user": u.user_id,
                "answers": u.answers,
                "tokens in": u.prompt_tokens,
                "tokens out": u.completion_tokens,
                "cost ($)": round(u.cost_usd, 6),
            }
            for u in organisation.users
        ],
        hide_index=True,
        key="usage_top_users",
    )
    st.markdown("**Spending per model**")
    st.dataframe(
        [
            {"model": m.model, "answers": m.answers, "cost ($)": round(m.cost_usd, 6)}
            for m in organisation.by_model
        ],
        hide_index=True,
    )
    st.download_button(
        "Download users as CSV", quotas.organisation_csv(period), file_name="usage.csv", mime="text/csv"
    )
    st.subheader("Audit log")
    entries = quotas.audit()
    st.dataframe(
        [
            {
                "when": e.at.strftime("%Y-%m-%d %H:%M:%S"),
                "who": e.actor,
                "what": e.action,
                "target": e.target,
                "before": str(e.before),
                "after": str(e.after),
            }
            for e in entries
        ],
        hide_index=True,
    )
    st.download_button(
        "Download the audit log as CSV", quotas.audit_csv(), file_name="audit.csv", mime="text/csv"
    )
