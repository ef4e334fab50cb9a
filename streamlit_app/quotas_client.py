"""The chat API's quota routes, for the Usage, Users and Settings pages (typed by chatbot.api.quotas).

Kept beside `api.ChatApi` rather than in it, so this feature's calls live in one module; it uses
the same session (token, connection pool, error messages)."""

from __future__ import annotations

from typing import Literal
from urllib.parse import quote

from chatbot.api.quotas import (
    AuditEntry,
    KeyUsage,
    Limits,
    LimitsOverview,
    OrganisationUsage,
    UsageReport,
    UsageSort,
)
from streamlit_app.api import ChatApi, _parse

Period = Literal["day", "month"]


class QuotasApi:
    def __init__(self, api: ChatApi):
        self._api = api

    def usage(self, period: Period = "month") -> UsageReport:
        return _parse(UsageReport, self._api._json("GET", "/usage", params={"period": period}))

    def key_usage(self, period: Period = "month") -> list[KeyUsage]:
        return [
            _parse(KeyUsage, item)
            for item in self._api._json("GET", "/usage/keys", params={"period": period})
        ]

    def organisation(self, period: Period = "month", sort: UsageSort = "cost") -> OrganisationUsage:
        data = self._api._json("GET", "/admin/usage", params={"period": period, "sort": sort})
        return _parse(OrganisationUsage, data)

    def organisation_csv(self, period: Period = "month") -> bytes:
        return self._api._request("GET", "/admin/usage", params={"period": period, "format": "csv"}).content

    def limits(self) -> LimitsOverview:
        return _parse(LimitsOverview, self._api._json("GET", "/admin/limits"))

    def set_role_limits(self, role: str, limits: Limits) -> Limits:
        body = limits.model_dump(include=set(limits.model_fields_set))
        return _parse(Limits, self._api._json("PUT", f"/admin/limits/{quote(role, safe='')}", json=body))

    def set_user_limits(self, name: str, limits: Limits) -> Limits:
        body = limits.model_dump(include=set(limits.model_fields_set))
        return _parse(
            Limits, self._api._json("PUT", f"/admin/users/{quote(name, safe='')}/limits", json=body)
        )

    def audit(self) -> list[AuditEntry]:
        return [_parse(AuditEntry, item) for item in self._api._json("GET", "/admin/audit")]

    def audit_csv(self) -> bytes:
        return self._api._request("GET", "/admin/audit", params={"format": "csv"}).content
