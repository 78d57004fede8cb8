"""The bundled demo dataset exercises every rule as of 2026-11-20T12:00Z.

``cmrules/data/demo.yaml`` documents, in its header, which rules each record is designed to
trigger; ``DESIGNED`` below is that table (fired rules only) and must change with it.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cmrules import rulebook, signals
from cmrules.connectors.local import LocalConnector, import_file
from cmrules.engine import CANNOT_ASSESS, FIRED, Engine
from cmrules.model import OrgKind
from cmrules.vocabulary import DEFAULT as VOCABULARY

AS_OF = datetime(2026, 11, 20, 12, tzinfo=UTC)
EXAMPLE = Path(__file__).parent.parent / "examples" / "import-example.yaml"

# (vendor id, company id or None for the vendor record) -> rules designed to fire
DESIGNED: dict[tuple[str, str | None], set[str]] = {
    ("v-hashtag", None): set(),
    ("v-hashtag", "c-lefevre"): set(),
    ("v-hashtag", "c-durand"): {"CMR001", "CMR003", "CMR005", "CMR006"},
    ("v-hashtag", "c-serenite"): {"CMR004", "CMR012", "CMR013"},
    ("v-pixel", None): {"CMR020"},
    ("v-pixel", "c-medina"): {"CMR002", "CMR008", "CMR010", "CMR011", "CMR018"},
    ("v-pixel", "c-quai"): {"CMR009", "CMR016", "CMR017", "CMR018"},
    ("v-buzz", None): {"CMR019", "CMR021"},
    ("v-buzz", "c-garnier"): {"CMR004", "CMR007", "CMR014", "CMR015", "CMR018"},
    ("v-buzz", "c-embruns"): {"CMR006", "CMR015"},
    ("v-bleucitron", None): set(),
    ("v-bleucitron", "c-saint-eloi"): set(),
    ("v-bleucitron", "c-alpine"): {"CMR005", "CMR018"},
    ("v-nuage", None): set(),
    ("v-nuage", "c-roussel"): set(),
}  # fmt: skip
# prospects (issue #15: no engagement signed; readiness) -> rules designed to fire
DESIGNED_PROSPECTS: dict[str, set[str]] = {
    "c-prospect": {"CMR001", "CMR004"},  # not ready yet: two owners, leadership never met
    "c-vasseur": set(),  # ready to sign
    "c-northwind": {"CMR003", "CMR005", "CMR022"},  # ready with conditions
    "c-morel": set(),  # not ready yet: mostly unknown
}


class DemoRun:
    def __init__(self, path: Path):
        self.conn = LocalConnector({"path": str(path)})
        self.vendors = self.conn.organisations(OrgKind.VENDOR)
        self.companies = self.conn.organisations(OrgKind.COMPANY)
        engine = Engine(rulebook.load())
        self.rules = engine.rulebook.rules
        ds = self.conn.load([v.id for v in self.vendors])
        VOCABULARY.apply(ds)  # as every run does
        # (vendor id, company id | None) -> {rule id: status}
        self.outcomes: dict[tuple[str, str | None], dict[str, str]] = {}
        for v in self.vendors:
            values = signals.compute(signals.VendorContext(ds, v, AS_OF))
            self.outcomes[(v.id, None)] = self._run(engine, "vendor", values)
            for e in ds.engagements_of_vendor(v.id):
                if not e.active(AS_OF):  # a former client or a prospect: not judged as a client
                    continue
                company = ds.organisations[e.company_id]
                values = signals.compute(signals.CompanyContext(ds, company, v, AS_OF))
                self.outcomes[(v.id, company.id)] = self._run(engine, "company", values)

        self.prospects: dict[str, dict[str, str]] = {}
        pros = self.conn.load_prospects(DESIGNED_PROSPECTS)
        VOCABULARY.apply(pros)
        for cid in DESIGNED_PROSPECTS:
            context = signals.ProspectContext(pros, pros.organisations[cid], AS_OF)
            self.prospects[cid] = self._run(engine, "prospect", signals.compute(context))

    @staticmethod
    def _run(engine: Engine, subject: str, values: dict) -> dict[str, str]:
        out = engine.evaluate(subject, {k: s.value for k, s in values.items()})
        statuses: dict[str, str] = {}
        for o in out:
            assert statuses.setdefault(o.rule_id, o.status) == o.status, o
        return statuses

    def records(self, subject: str) -> dict[tuple[str, str | None], dict[str, str]]:
        return {k: v for k, v in self.outcomes.items() if (k[1] is None) == (subject == "vendor")}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoRun]:
    run = DemoRun(tmp_path_factory.mktemp("demo") / "local.sqlite3")
    yield run
    run.conn.close()


def test_demo_is_imported_on_first_use(demo: DemoRun) -> None:
    assert demo.conn.created
    assert demo.conn.path.exists()


def test_demo_has_enough_vendors_and_companies(demo: DemoRun) -> None:
    assert len(demo.vendors) >= 5
    assert len(demo.companies) >= 8
    engaged = {company for (_, company) in demo.outcomes if company is not None}
    assert engaged | set(demo.prospects) == {c.id for c in demo.companies}, (
        "every company works with a vendor or is a prospect"
    )
    assert not engaged & set(demo.prospects)


def test_demo_names_need_escaping_and_accents(demo: DemoRun) -> None:
    names = [o.name for o in demo.vendors + demo.companies]
    assert any("&" in n and "<" in n and ">" in n for n in names)
    assert any(any(ch in n for ch in "éèêàçôÉ") for n in names)


def test_every_rule_fires_somewhere_and_is_silent_elsewhere(demo: DemoRun) -> None:
    problems = []
    for rule in demo.rules:
        judged = rule.subject == "vendor" or rule.applies_to("engagement")
        records: dict = demo.records(rule.subject) if judged else {}
        if rule.applies_to("prospect"):
            records.update({("prospect", c): out for c, out in demo.prospects.items()})
        fired = {k for k, out in records.items() if out.get(rule.id) == FIRED}
        silent = {k for k, out in records.items() if rule.id not in out}
        if not fired:
            problems.append(f"{rule.id} fires for no {rule.subject}")
        if not silent:
            problems.append(f"{rule.id} is silent for no {rule.subject}")
    assert not problems


def test_missing_data_gives_cannot_assess(demo: DemoRun) -> None:
    statuses = [s for out in demo.outcomes.values() for s in out.values()]
    assert CANNOT_ASSESS in statuses
    # the new vendor with nothing recorded: every portfolio rule cannot be assessed
    vendor_rules = {r.id for r in demo.rules if r.subject == "vendor"}
    assert demo.outcomes[("v-nuage", None)] == dict.fromkeys(vendor_rules, CANNOT_ASSESS)


def test_a_former_agency_is_not_judged(demo: DemoRun) -> None:
    """Issue #8, item 6: the clinic left Pixel Social; its history stays, no verdict on it."""
    ds = demo.conn.load(["v-pixel"])
    ended = [e for e in ds.engagements if e.company_id == "c-saint-eloi"]
    assert [e.ended_at for e in ended] == [datetime(2025, 9, 30, tzinfo=UTC)]
    assert any(a.company_id == "c-saint-eloi" for a in ds.activities), "history kept"
    assert ("v-pixel", "c-saint-eloi") not in demo.outcomes
    clients = signals.VendorContext(ds, ds.organisations["v-pixel"], AS_OF).clients
    assert "c-saint-eloi" not in {c.company.id for c in clients}


def test_demo_matches_the_designed_scenario(demo: DemoRun) -> None:
    fired = {k: {r for r, s in out.items() if s == FIRED} for k, out in demo.outcomes.items()}
    assert fired == DESIGNED
    fired_p = {c: {r for r, s in out.items() if s == FIRED} for c, out in demo.prospects.items()}
    assert fired_p == DESIGNED_PROSPECTS
    assert set(demo.prospects["c-morel"].values()) == {CANNOT_ASSESS}, "mostly unknown"


def test_import_example_imports_cleanly(tmp_path: Path) -> None:
    conn = LocalConnector({"path": str(tmp_path / "example.sqlite3"), "demo": False})
    try:
        counts = import_file(conn, EXAMPLE)
        assert counts == {"organisations": 2, "contacts": 4, "activities": 4, "engagements": 1}
        ds = conn.load(["v-pixel-nord"])
        assert [(e.company_id, e.vendor_id) for e in ds.engagements] == [
            ("c-fromagerie", "v-pixel-nord")
        ]
        assert {c.id for c in ds.contacts} == {
            "p-louise-dupont", "p-marc-petit", "p-alice-roy", "p-yanis-faure",
        }  # fmt: skip
        assert len(ds.activities) == 4
        eng = ds.engagements[0]
        assert eng.attributes["kpis_defined"] is True
        assert eng.attributes["offer_last_revised"] == datetime(2026, 6, 15, tzinfo=UTC)
        assert eng.ended_at is None and not eng.ended(datetime(2030, 1, 1, tzinfo=UTC))
    finally:
        conn.close()
