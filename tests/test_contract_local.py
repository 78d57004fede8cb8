"""The connector contract kit (cmrules.testing) against the embedded local connector.

The "fake" is a real SQLite store loaded through ``cmrules local import``: an agency with
five clients, their people and meetings.  Writes are counted by SQLite itself (every INSERT,
UPDATE or DELETE the connector executes), failures injected with SQLite's authorizer (an
error) or by stopping the process before the statement (a crash)."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

from cmrules.connector import Connector, ConnectorContext
from cmrules.connectors.local import LocalConnector
from cmrules.testing import ConnectorContract, ContractHarness, SimulatedCrash

DATA = """\
organisations:
  - {id: v-ruche, name: "La Ruche Sociale", kind: vendor, domain: laruche.example}
  - {id: c-boulangerie, name: "Boulangerie Martin", kind: company,
     attributes: {industry: alimentaire, regulated: "non"}}
  - {id: c-mutuelle, name: "Mutuelle du Nord", kind: company, attributes: {regulated: "oui"}}
  - {id: c-garage, name: "Garage Lefèvre", kind: company, attributes: {regulated: null}}
  - {id: c-librairie, name: "Librairie des Quais", kind: company}
  - {id: c-opticien, name: "Optique Durand", kind: company, attributes: {industry: ""}}
contacts:
  - {id: p-martin, name: "Paul Martin", org: c-boulangerie, roles: [executive_sponsor],
     job_title: Gérant}
  - {id: p-sarah, name: "Sarah Ruche", org: v-ruche, roles: [vendor_referent]}
activities:
  - {id: m-1, kind: meeting, date: "2026-10-02T09:00:00Z", company: c-boulangerie,
     vendor: v-ruche, side: vendor, contacts: [p-martin, p-sarah], status: completed}
  - {id: m-2, kind: email, date: "1730000000000", company: c-mutuelle, vendor: v-ruche}
  - {id: m-3, kind: call, company: c-garage, vendor: v-ruche}
engagements:
  - {company: c-boulangerie, vendor: v-ruche, started: "2025-01-15"}
  - {company: c-mutuelle, vendor: v-ruche}
  - {company: c-garage, vendor: v-ruche}
  - {company: c-librairie, vendor: v-ruche}
  - {company: c-opticien, vendor: v-ruche}
"""


class LocalHarness(ContractHarness):
    error_kinds = ("unavailable",)  # no credentials, no quota: only an unreadable store

    def __init__(self, tmp_path: Path):
        self.path = tmp_path / "store.sqlite3"
        self.writes = 0
        self.pending: tuple[str, bool] | None = None
        self.broken = tmp_path  # a directory: SQLite cannot open it as a database
        self.is_broken = False
        data = tmp_path / "data.yaml"
        data.write_text(DATA, "utf-8")
        conn = self._make()
        conn.import_file(data)
        conn.close()
        self.writes = 0

    def _make(self) -> LocalConnector:
        path = self.broken if self.is_broken else self.path
        return LocalConnector({"path": str(path), "demo": False}, ConnectorContext())

    def connector(self) -> Connector:
        conn = self._make()
        if self.is_broken:
            return conn
        db = conn.db

        def count(statement: str) -> None:
            if statement.lstrip().split(" ", 1)[0].upper() in ("INSERT", "UPDATE", "DELETE"):
                self.writes += 1

        db.set_trace_callback(count)
        if self.pending is not None:
            step, crash = self.pending
            self.pending = None
            table = "notes" if step == "note" else "flags"
            if crash:  # the process dies just before the step's statement
                method = "write_note" if step == "note" else "write_flags"

                def die(*args: object) -> None:
                    raise SimulatedCrash(f"killed before writing {table}")

                setattr(conn, method, die)
            else:

                def deny(action: int, arg1: str | None, *rest: object) -> int:
                    if action == sqlite3.SQLITE_INSERT and arg1 == table:
                        return sqlite3.SQLITE_DENY
                    return sqlite3.SQLITE_OK

                db.set_authorizer(deny)
        return conn

    def vendor_id(self) -> str:
        return "v-ruche"

    def client_ids(self) -> set[str]:
        return {"c-boulangerie", "c-mutuelle", "c-garage", "c-librairie", "c-opticien"}

    def unknown_attributes(self) -> dict[str, set[str]]:
        # regulated: null and industry: "" are blanks in the file: unknown, not False
        return {"c-garage": {"regulated"}, "c-opticien": {"industry", "regulated"}}

    def write_count(self) -> int:
        return self.writes

    def fail_next(self, step: str, crash: bool) -> None:
        self.pending = (step, crash)

    def break_source(self, kind: str) -> None:
        self.is_broken = True


class TestLocalContract(ConnectorContract):
    @pytest.fixture
    def harness(self, tmp_path: Path) -> LocalHarness:
        return LocalHarness(tmp_path)


# -- the kit catches broken connectors (a check that cannot fail would prove nothing) ---------
class ForgetsFingerprint(LocalConnector):
    """Never reports what it wrote: every rerun would write everything again."""

    def load(self, vendor_ids, company_ids=None):  # type: ignore[no-untyped-def]
        data = super().load(vendor_ids, company_ids)
        for org in data.organisations.values():
            object.__setattr__(org, "writeback", {})
        return data


class FlagsFirst(LocalConnector):
    """Writes the fingerprint before the note: a crash in between loses the note for good."""

    def apply(self, note):  # type: ignore[no-untyped-def]
        self.write_flags(note.subject, note.flags)
        if not self.note_exists(note.subject, note.fingerprint):
            self.write_note(note.subject, note)
            return True
        return False


class BlankIsFalse(LocalConnector):
    """Reads a blank 'regulated' as False: the rule would pass silently instead of
    reporting that it cannot assess."""

    def load(self, vendor_ids, company_ids=None):  # type: ignore[no-untyped-def]
        data = super().load(vendor_ids, company_ids)
        for org in data.organisations.values():
            org.attributes.setdefault("regulated", False)  # type: ignore[index]
        return data


@pytest.mark.parametrize(
    ("broken", "check", "message"),
    [
        (ForgetsFingerprint, "test_change_only_write_back", "fingerprint not read back"),
        (FlagsFirst, "test_crash_safe_note_then_flags", "0 notes after the rerun"),
        (BlankIsFalse, "test_missing_data_is_left_unknown", "c-garage: blank ['regulated']"),
    ],
)
def test_the_kit_catches_a_broken_connector(tmp_path, broken, check, message):
    harness = LocalHarness(tmp_path)
    make = harness._make
    harness._make = lambda: broken(make().settings, ConnectorContext())  # type: ignore[method-assign]
    with pytest.raises(AssertionError, match=re.escape(message)):
        getattr(TestLocalContract(), check)(harness)
