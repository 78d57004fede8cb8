"""Helpers shared by the tests and the benchmark: a virtual clock, a connector on the fake,
a populated portal."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from .common import iso
from .portal import FakeHubSpot


class FakeClock:
    """Virtual time: ``sleep`` advances it, so rate limiters never really wait."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 6))
        self.now += seconds


def make_connector(fake: FakeHubSpot, clock: FakeClock | None = None, **settings: Any) -> Any:
    from cmrules.connector import ConnectorContext
    from cmrules.connectors.hubspot import HubSpotConnector

    clock = clock or FakeClock()
    base = {"service_key": fake.token, "base_url": fake.base_url}
    base.update(settings)
    http = base.pop("http", {})
    connector = HubSpotConnector(base, ConnectorContext(http=http), sleep=clock.sleep, clock=clock)
    connector.client.jitter = lambda delay: delay  # deterministic backoff in tests
    return connector


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def days(n: float) -> timedelta:
    return timedelta(days=n)


def populate(
    fake: FakeHubSpot,
    companies: int,
    vendors: int = 10,
    contacts_per_company: int = 2,
    meetings_per_company: int = 3,
    shared: int = 0,
    notes_per_company: int = 0,
) -> dict[str, list[str]]:
    """A simulated portal: ``vendors`` agencies sharing ``companies`` clients (round robin),
    each client with contacts and meetings, each vendor with one referent per client.  The
    first ``shared`` clients also work with the next agency (two vendors, one record).

    ``notes_per_company`` human notes on each client (and one on each vendor), as account
    managers write them: HTML bodies, every fifth a long meeting report (about 6 KB), some
    associated with the contact they are about; none carries a ``cmrules:`` marker."""
    for name in ("cm_regulated", "cm_kpis_defined"):
        fake.define_property("companies", name, "bool")
    vendor_ids = [
        fake.company(f"Agence {v}", type="VENDOR", domain=f"agence{v}.example")
        for v in range(vendors)
    ]
    referents = {
        v: fake.contact("Ref", f"Vendor{i}", jobtitle="Chargée de compte")
        for i, v in enumerate(vendor_ids)
    }
    for v, ref in referents.items():
        fake.associate("companies", v, "contacts", ref)
        if notes_per_company:
            human_note(fake, v, 0, None)
    client_ids, meeting_ids, note_ids = [], [], []
    for c in range(companies - vendors):
        vendor = vendor_ids[c % vendors]
        client = fake.company(
            f"Client {c}",
            type="PROSPECT",
            domain=f"client{c}.example",
            cm_regulated="true" if c % 7 == 0 else "false",
            cm_kpis_defined=None if c % 3 == 0 else "true",
        )
        client_ids.append(client)
        fake.associate("companies", vendor, "companies", client, label="Client")
        people = []
        for k in range(contacts_per_company):
            title = ("Directrice générale", "Chef de projet", "Community manager")[k % 3]
            person = fake.contact(f"P{k}", f"C{c}", jobtitle=title, email=f"p{k}@client{c}.example")
            fake.associate("companies", client, "contacts", person, primary=k == 0)
            people.append(person)
        fake.associate("companies", client, "contacts", referents[vendor])
        if c < shared:
            other = vendor_ids[(c + 1) % vendors]
            fake.associate("companies", other, "companies", client, label="Client")
            fake.associate("companies", client, "contacts", referents[other])
        for m in range(meetings_per_company):
            title = ("Comité de pilotage", "Proposition campagne été — acceptée", "Bilan KPI")[
                m % 3
            ]
            meeting = fake.add(
                "meetings",
                {
                    "hs_meeting_title": title,
                    "hs_timestamp": iso(fake.clock_ms - (m + 1) * 86_400_000),
                    "hs_meeting_outcome": "COMPLETED",
                },
            )
            meeting_ids.append(meeting)
            fake.associate("meetings", meeting, "companies", client)
            fake.associate(
                "meetings", meeting, "contacts", people[0] if people else referents[vendor]
            )
            if m % 2:
                fake.associate("meetings", meeting, "contacts", referents[vendor])
        for n in range(notes_per_company):
            note_ids.append(
                human_note(fake, client, c + n, people[n % len(people)] if people else None)
            )
    return {
        "vendors": vendor_ids,
        "clients": client_ids,
        "meetings": meeting_ids,
        "notes": note_ids,
    }


HUMAN_NOTES = (
    "<p>Appel avec la directrice : elle veut <b>plus de vidéos</b> sur Instagram.</p>",
    "<p>Relance devis — pas de réponse, à rappeler mardi.</p>",
    "<p>RDV annulé par le client (grève). Reporté au 12.</p>",
    "<p>Point KPI : taux d'engagement 3,2 % (objectif 4 %) ; modération OK.</p>",
)


def human_note(fake: FakeHubSpot, company: str, n: int, contact: str | None) -> str:
    """One note an account manager wrote on ``company`` (no cmrules marker); the ``n % 5 ==
    4`` ones are long meeting reports."""
    if n % 5 == 4:
        paragraph = (
            "<p>Compte rendu du comité éditorial : calendrier validé, ton de marque revu, "
            "réponses aux avis négatifs sous 24 h, escalade vers le juridique pour les sujets "
            "sensibles &amp; crise (procédure jointe).</p>"
        )
        body = "<h3>Comité éditorial</h3>" + paragraph * 30
    else:
        body = HUMAN_NOTES[n % len(HUMAN_NOTES)]
    note = fake.add(
        "notes",
        {"hs_note_body": body, "hs_timestamp": iso(fake.clock_ms - (n % 40 + 1) * 86_400_000)},
    )
    fake.associate("notes", note, "companies", company)
    if contact is not None and n % 2:
        fake.associate("notes", note, "contacts", contact)
    return note
