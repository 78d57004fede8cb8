"""The standard scenario (SocialCo and its clients), the virtual clock and a note helper."""

from __future__ import annotations

from datetime import UTC, datetime

import responses

from cmrules.connector import ConnectorContext, Flags, RenderedNote
from cmrules.connectors.zendesk import ZendeskConnector

from .api import FakeZendesk
from .common import EMAIL, TOKEN

T0 = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)


class Clock:
    """Fake monotonic clock; sleeping advances it and is recorded, never real."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def note_for(org, fingerprint: str, text: str, rules=("CMR-001",), risk="high") -> RenderedNote:
    flags = Flags(risk_level=risk, rule_ids=tuple(rules), evaluated_at=T0, fingerprint=fingerprint)
    return RenderedNote(
        subject=org,
        fingerprint=fingerprint,
        html=f"<p>{text}</p>",
        text=text,
        flags=flags,
        language="en",
    )


def scenario(rsps: responses.RequestsMock) -> FakeZendesk:
    """Vendor SocialCo (100) with clients Acme (200, by field) and Beta (201, by tag);
    Gamma (202) names an unknown vendor; Unrelated (300) is no CM organisation."""
    fake = FakeZendesk(rsps)
    fake.org(
        100, "SocialCo", external_id="vend-1", tags=["cm_vendor"], domain_names=["socialco.fr"]
    )
    fake.org(
        200,
        "Acme",
        domain_names=["acme.com"],
        fields={"cm_vendor": "vend-1", "regulated": True},
        notes="Human intro line.\nSecond human line.",
        tags=["vip", "region_west"],
    )
    fake.org(201, "Beta", domain_names=["beta.io"], tags=["cm_vendor_vend_1"])
    fake.org(202, "Gamma", fields={"cm_vendor": "nobody-knows"})
    fake.org(300, "Unrelated Ltd")
    fake.user(10, "Alice Owner", 200, user_fields={"cm_role": "project_owner", "job_title": "CMO"})
    fake.user(11, "Bob Boss", 200, tags=["cm_role_executive_sponsor"])
    fake.user(20, "Vera Ref", 100, user_fields={"cm_role": "Vendor Referent"})
    fake.user(21, "Carl CM", 100, tags=["cm_role_cm"])
    fake.user(30, "Bea Client", 201)
    fake.ticket(
        1000,
        200,
        10,
        {"reply_time_in_minutes": {"calendar": 60, "business": 30}, "replies": 2},
        subject="Validate the May calendar",
    )
    fake.ticket(1001, 200, 20)  # no metrics record at all
    fake.ticket(
        1002,
        200,
        10,
        {"reply_time_in_minutes": {"calendar": None, "business": None}, "replies": 0},
        status="new",
    )
    fake.ticket(
        1003, 201, 30, {"reply_time_in_minutes": {"calendar": 5, "business": 5}, "replies": 1}
    )
    return fake


def make_connector(settings: dict | None = None, clock: Clock | None = None) -> ZendeskConnector:
    """A connector on the standard scenario's site (API token), ``settings`` on top."""
    clock = clock or Clock()
    base = {
        "subdomain": "acme",
        "email": EMAIL,
        "token": TOKEN,
        "org_attribute_fields": {"regulated": "regulated"},
    }
    return ZendeskConnector(
        {**base, **(settings or {})}, ConnectorContext(), sleep=clock.sleep, clock=clock
    )
