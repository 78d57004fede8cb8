"""The connector contract kit (cmrules.testing) against the Zendesk connector and its fake
account (tests/zendesk_fake.py).  Zendesk writes the notes block and the flag tags in one PUT,
atomic on Zendesk's side, so the protocol has one step: a failure lands nothing, a crash
after the PUT landed everything."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import responses
from zendesk_fake import AUTH, EMAIL, TOKEN, Clock, FakeZendesk

from cmrules.connector import Connector, ConnectorContext
from cmrules.connectors.zendesk import ZendeskConnector
from cmrules.testing import ConnectorContract, ContractHarness, SimulatedCrash


class ZendeskHarness(ContractHarness):
    write_steps = ("write",)
    secret = TOKEN

    def __init__(self, fake: FakeZendesk):
        self.fake = fake
        self.clock = Clock()
        fake.org(100, "SocialCo", external_id="vend-1", tags=["cm_vendor"])
        fake.user(20, "Vera Ref", 100, user_fields={"cm_role": "vendor_referent"})
        for i, regulated in enumerate([True, False, None]):
            oid = 200 + i
            fields = {"cm_vendor": "vend-1", "regulated": regulated}
            fake.org(oid, f"Client {i}", fields=fields, notes="Contrat signé en mars.\n")
            fake.user(10 + i, f"Client person {i}", oid, user_fields={"cm_role": "cm"})
            fake.ticket(
                1000 + i,
                oid,
                10 + i,
                {"reply_time_in_minutes": {"calendar": 90, "business": 45}, "replies": 2},
            )

    def connector(self) -> Connector:
        settings = {
            "subdomain": "acme",
            "email": EMAIL,
            "token": TOKEN,
            "org_attribute_fields": {"regulated": "regulated"},
        }
        return ZendeskConnector(
            settings,
            ConnectorContext(http={"max_retries": 2}),
            sleep=self.clock.sleep,
            clock=self.clock,
        )

    def vendor_id(self) -> str:
        return "100"

    def client_ids(self) -> set[str]:
        return {"200", "201", "202"}

    def unknown_attributes(self) -> dict[str, set[str]]:
        return {"202": {"regulated"}}  # the field is empty in Zendesk

    def write_count(self) -> int:
        return len(self.fake.puts)

    def fail_next(self, step: str, crash: bool) -> None:
        if crash:
            self.fake.crash_after_next_put = SimulatedCrash
        else:
            self.fake.fail_next("PUT", r"/organizations/\d+", 422, '{"error": "RecordInvalid"}')

    def break_source(self, kind: str) -> None:
        self.fake.failures.clear()  # one kind of failure at a time
        self.fake.require_auth = AUTH
        if kind == "auth":
            self.fake.require_auth = "Basic someone-else"
        elif kind == "rate_limit":  # a Retry-After beyond what a run waits for
            for _ in range(5):
                self.fake.fail_next("GET", ".", 429, "slow down", headers={"Retry-After": "9999"})
        else:
            for _ in range(5):
                self.fake.fail_next("GET", ".", 503, "maintenance")


class TestZendeskContract(ConnectorContract):
    @pytest.fixture
    def harness(self) -> Iterator[ZendeskHarness]:
        with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
            fake = FakeZendesk(rsps)
            fake.require_auth = AUTH
            yield ZendeskHarness(fake)
