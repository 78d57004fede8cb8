"""The connector contract kit (cmrules.testing) against the HubSpot connector and its fake
portal (tests/hubspot_fake/): an agency with five clients, contacts with job titles and
meetings, values as HubSpot spells them ("true", "", epoch milliseconds)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hubspot_fake import FakeClock, FakeHubSpot, make_connector

from cmrules.connector import Connector
from cmrules.testing import ConnectorContract, ContractHarness, SimulatedCrash

#: the write path of each step of the protocol (batch and single-record forms)
STEPS = {
    "note": r"/notes/batch/create$|/notes$",
    "flags": r"/companies/batch/update$|/companies/\d+$",
}


class HubSpotHarness(ContractHarness):
    def __init__(self, fake: FakeHubSpot):
        self.fake = fake
        self.secret = fake.token
        self.clock = FakeClock()
        self.vendor = fake.company("Agence Hashtag & Co", type="VENDOR")
        regulated = ["true", "false", "", "true", "false"]  # "" is a blank: unknown
        self.clients = []
        for i, value in enumerate(regulated):
            client = fake.company(f"Client {i}", cm_regulated=value)
            fake.associate("companies", self.vendor, "companies", client, label="Client")
            person = fake.contact(f"Camille{i}", "Durand", jobtitle="Responsable communication")
            fake.associate("companies", client, "contacts", person, primary=True)
            meeting = fake.add(
                "meetings",
                {"hs_meeting_title": "Point mensuel", "hs_timestamp": "1761984000000"},
            )
            fake.associate("companies", client, "meetings", meeting)
            fake.associate("meetings", meeting, "contacts", person)
            self.clients.append(client)
        self.blank = self.clients[2]
        referent = fake.contact("Inès", "Moreau", jobtitle="Account manager")
        fake.associate("companies", self.vendor, "contacts", referent)
        self.connector().setup()  # the portal as `cmrules setup` left it

    def connector(self) -> Connector:
        return make_connector(
            self.fake,
            self.clock,
            rule_ids=["CMR001"],
            attributes={"regulated": "cm_regulated"},
            http={"max_retries": 2},
        )

    def vendor_id(self) -> str:
        return self.vendor

    def client_ids(self) -> set[str]:
        return set(self.clients)

    def unknown_attributes(self) -> dict[str, set[str]]:
        return {self.blank: {"regulated"}}

    def write_count(self) -> int:
        return self.fake.applied_writes()

    def fail_next(self, step: str, crash: bool) -> None:
        if crash:  # the request lands, then the process dies before reading the answer
            self.fake.inject("POST", STEPS[step], raise_=SimulatedCrash, after=True)
            self.fake.inject("PATCH", STEPS[step], raise_=SimulatedCrash, after=True)
        else:  # a 503 that outlasts the retries
            for method in ("POST", "PATCH"):
                self.fake.inject(method, STEPS[step], times=3, status=503)

    def break_source(self, kind: str) -> None:
        self.fake.injections.clear()  # one kind of failure at a time
        if kind == "auth":
            self.fake.inject("POST", ".", times=99, status=401, body={"message": "bad token"})
        elif kind == "rate_limit":
            daily = {"status": "error", "message": "daily limit", "policyName": "DAILY"}
            self.fake.inject("POST", ".", times=99, status=429, body=daily)
        else:
            self.fake.inject("POST", ".", times=99, status=503)


class TestHubSpotContract(ConnectorContract):
    @pytest.fixture
    def harness(self) -> Iterator[HubSpotHarness]:
        with FakeHubSpot() as fake:
            yield HubSpotHarness(fake)
