"""HubSpot sync API calls on a portal with human notes read as activities (issue #11).

The notes the reader reads as activities carry the ``cmrules:`` fingerprints the writer looks
for: it must not read them again per write batch; a full sync needs no search paging through
every company.  Call counts are pinned on the fake (not timed), and crash safety still holds
when the fingerprints come from the reader's notes.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from hubspot_fake import FakeHubSpot, SimulatedCrash, make_connector, populate

from cmrules import service

SETTINGS = {
    "client_association_labels": ["Client"],
    "attributes": {"regulated": "cm_regulated", "kpis_defined": "cm_kpis_defined"},
    "activity_types": ["meetings", "notes"],
}
CREATE = r"/crm/v3/objects/notes/batch/create$"
UPDATE = r"/crm/v3/objects/companies/batch/update$"


def portal(fake: FakeHubSpot, companies: int = 230) -> dict[str, list[str]]:
    """Two agencies; every client with 2 contacts, 2 meetings and 3 notes its account manager
    wrote (one in five a long report); one client in ten also works with the other agency."""
    ids = populate(fake, companies, 2, 2, 2, shared=(companies - 2) // 10, notes_per_company=3)
    connector = make_connector(fake, **SETTINGS)
    connector.rule_ids = [r.id for r in service.open_session(None, connector=connector).rulebook]
    connector.setup()
    return ids


def sync(fake: FakeHubSpot, state: Path, full: bool = True) -> dict:
    connector = make_connector(fake, **SETTINGS)
    session = service.open_session(None, connector=connector)
    fake.calls.clear()
    return service.sync(session, full=full, state_path=state).summary()


def by_endpoint(fake: FakeHubSpot) -> Counter:
    return Counter(f"{c['method']} {c['path']}" for c in fake.calls)


def test_first_full_sync_reads_each_note_once_and_pages_no_company_search(tmp_path):
    """230 records in three write batches.  Every count is the batch-limit minimum (100 per
    object batch, 1,000 per association batch) except the vendors' notes: the reader reads
    notes as activities of clients only, so the writer reads the two vendors' notes itself
    (one association read, one batch read).  Re-reading the clients' notes per write batch
    (the #11 regression) adds 3+ notes batch reads; a change search through every company
    adds 2 search pages."""
    with FakeHubSpot() as fake:
        portal(fake)
        summary = sync(fake, tmp_path / "state.json")
        assert summary["notes_written"] == 230 and summary["failed"] == 0
        assert by_endpoint(fake) == {
            "POST /crm/v3/objects/companies/search": 1,  # the vendors
            "POST /crm/v4/associations/companies/companies/batch/read": 1,  # their clients
            "POST /crm/v3/objects/companies/batch/read": 3,  # 230 companies
            "POST /crm/v4/associations/companies/contacts/batch/read": 1,
            "POST /crm/v3/objects/contacts/batch/read": 5,  # 456 + 2 referents
            "POST /crm/v4/associations/companies/meetings/batch/read": 1,
            "POST /crm/v3/objects/meetings/batch/read": 5,  # 456 meetings
            "POST /crm/v4/associations/meetings/contacts/batch/read": 1,
            "POST /crm/v4/associations/companies/notes/batch/read": 2,  # clients, then vendors
            "POST /crm/v3/objects/notes/batch/read": 8,  # 684 clients' notes, then 2 vendors'
            "POST /crm/v4/associations/notes/contacts/batch/read": 1,
            "POST /crm/v3/objects/notes/batch/create": 3,
            "POST /crm/v3/objects/companies/batch/update": 3,
        }


def test_unchanged_reruns_write_nothing_and_read_no_note_twice(tmp_path):
    """The second full sync and an incremental one make zero write calls, and the writer
    reads nothing (no record to write)."""
    with FakeHubSpot() as fake:
        portal(fake, 20)
        state = tmp_path / "state.json"
        assert sync(fake, state)["notes_written"] == 20
        again = sync(fake, state)
        assert again["unchanged"] == 20 and fake.write_calls() == 0
        assert fake.count("POST", r"/associations/companies/notes/batch/read$") == 1
        assert fake.count("POST", r"/objects/notes/batch/read$") == 1  # 72 notes: the reader's
        sync(fake, state, full=False)
        assert fake.write_calls() == 0


STEPS = [
    ("before batch note create", CREATE, False),
    ("after batch note create", CREATE, True),
    ("before batch flag update", UPDATE, False),
    ("after batch flag update", UPDATE, True),
]


@pytest.mark.parametrize(("step", "path", "after"), STEPS, ids=[s[0] for s in STEPS])
@pytest.mark.parametrize("batch", [0, 1], ids=["first batch", "second batch"])
def test_killed_sync_rerun_finds_its_notes_among_those_read_as_activities(
    tmp_path, step, path, after, batch
):
    """Killed at each step of a write batch, the rerun finds the notes that landed among the
    notes it read as activities (no second read) and writes only their flags: exactly one
    cmrules note per record, the human notes untouched, and a third run writes nothing."""
    with FakeHubSpot() as fake:
        ids = portal(fake, 150)
        human = len(fake.objects["notes"])
        state = tmp_path / "state.json"
        fake.inject("POST", path, raise_=SimulatedCrash("killed"), after=after, skip=batch)
        with pytest.raises(SimulatedCrash):
            sync(fake, state)
        rerun = sync(fake, state)
        assert rerun["failed"] == 0, step
        for company in ids["vendors"] + ids["clients"]:
            marked = [
                n
                for n in fake.notes_of(company)
                if "cmrules:" in (n["properties"].get("hs_note_body") or "")
            ]
            assert len(marked) == 1, f"{len(marked)} cmrules notes on {company} ({step})"
            fingerprint = fake.objects["companies"][company]["properties"]["cmrules_fingerprint"]
            assert f"cmrules:{fingerprint}" in marked[0]["properties"]["hs_note_body"]
        assert len(fake.objects["notes"]) == human + 150
        # the rerun's note look-ups: the reader's reads, plus the vendors' notes
        assert fake.count("POST", r"/objects/notes/batch/read$") <= 5 + 2
        assert sync(fake, state)["unchanged"] == 150 and fake.write_calls() == 0


def test_a_note_written_in_this_run_is_found_by_the_next_lookup_not_the_stale_index():
    """The same record twice in one call (two rounds): the index the reader filled says the
    company had no cmrules note; after the first round wrote one, the second round must read
    afresh and find it — a stale index would write a duplicate."""
    from test_hubspot_write import RULES, render

    with FakeHubSpot() as fake:
        ids = portal(fake, 4)
        connector = make_connector(fake, rule_ids=RULES, **SETTINGS)
        connector.setup()  # the test's rule ids as cmrules_flags options
        org = next(o for o in connector.load(ids["vendors"]).companies())
        assert connector.writer.note_index.known(org.id)
        outcomes = connector.apply_many([render(org), render(org)])
        assert [o.created for o in outcomes] == [True, False]
        assert len([n for n in fake.notes_of(org.id) if "cmrules:" in str(n)]) == 1


def test_the_index_holds_the_fingerprints_the_reader_read():
    """A note cmrules wrote in an earlier run is evidence of nothing (not an activity) but its
    fingerprint is indexed: finding it costs no call."""
    from test_hubspot_write import RULES, render

    with FakeHubSpot() as fake:
        ids = portal(fake, 4)
        first = make_connector(fake, rule_ids=RULES, **SETTINGS)
        first.setup()
        org = next(o for o in first.load(ids["vendors"]).companies())
        first.write_note(org, render(org))
        connector = make_connector(fake, rule_ids=RULES, **SETTINGS)
        data = connector.load(ids["vendors"])
        assert not [a for a in data.activities if "cmrules" in (a.title or "")]
        fake.calls.clear()
        assert connector.note_exists(org, "v1-CM01")
        assert not connector.note_exists(org, "v2-CM01")
        assert fake.calls == []
