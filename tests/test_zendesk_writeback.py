"""Zendesk write-back against the stateful double: notes block, tags, merge with human edits,
truncation, flag history (no network, no real sleeping)."""

from __future__ import annotations

import logging

import pytest
import responses
from zendesk_fake import (
    AUTH,
    EMAIL,
    T0,
    TOKEN,
    FakeZendesk,
    make_connector,
    note_for,
    scenario,
)

from cmrules.connector import Flags, RenderedNote
from cmrules.connectors.zendesk import (
    ZendeskConnector,
    flag_tags,
    merge_notes,
    merge_tags,
    read_block,
    render_block,
)
from cmrules.errors import AuthError, WriteError
from cmrules.model import OrgKind


@pytest.fixture
def rsps():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as r:
        yield r


@pytest.fixture
def zd(rsps) -> FakeZendesk:
    return scenario(rsps)


make = make_connector


# -- write-back -----------------------------------------------------------------------------------
def run(zd, fingerprint: str, text: str, rules=("CMR-001",)) -> tuple[ZendeskConnector, bool]:
    conn = make()
    data = conn.load(["100"], ["200"])
    created = conn.apply(note_for(data.organisations["200"], fingerprint, text, rules))
    return conn, created


def test_human_text_and_tags_survive_three_runs(zd):
    conn, created = run(zd, "fp-1", "HIGH: two people give directions.")
    assert created and len(zd.puts) == 1 and conn.context.stats["write_calls"] == 1
    notes = zd.orgs[200]["notes"]
    assert notes.startswith("Human intro line.\nSecond human line.\n\n--- cmrules:begin fp-1 ")
    assert notes.endswith("HIGH: two people give directions.\n--- cmrules:end ---")
    assert zd.orgs[200]["tags"] == [
        "vip",
        "region_west",
        "cmrules_flag_cmr_001",
        "cmrules_risk_high",
    ]

    # a human adds text after the block and a tag between runs
    zd.orgs[200]["notes"] += "\n\nCalled them on 3 June.\n"
    zd.orgs[200]["tags"].append("renewal")

    conn, created = run(zd, "fp-1", "HIGH: two people give directions.")
    assert not created and len(zd.puts) == 1
    assert conn.context.stats.get("write_calls", 0) == 0
    assert not zd.calls("PUT")[1:]

    conn, created = run(zd, "fp-2", "MEDIUM: meetings are rare.", rules=("CMR-008",))
    assert created and len(zd.puts) == 2
    notes = zd.orgs[200]["notes"]
    assert notes.startswith("Human intro line.\nSecond human line.\n\n--- cmrules:begin fp-2 ")
    assert "MEDIUM: meetings are rare.\n--- cmrules:end ---\n\nCalled them on 3 June.\n" in notes
    assert "two people" not in notes and notes.count("cmrules:begin") == 1
    assert zd.orgs[200]["tags"] == [
        "vip",
        "region_west",
        "renewal",
        "cmrules_flag_cmr_008",
        "cmrules_risk_high",
    ]
    # the fingerprint is read back at load time: the next run makes no call at all after load
    conn = make()
    data = conn.load(["100"], ["200"])
    assert data.organisations["200"].writeback == {"fingerprint": "fp-2"}
    before = len(zd.log)
    assert conn.apply(note_for(data.organisations["200"], "fp-2", "x", ("CMR-008",))) is False
    assert len(zd.log) == before


def test_removed_flag_tags_are_restored_on_the_next_run(zd):
    run(zd, "fp-1", "text")
    zd.orgs[200]["tags"] = ["vip"]  # someone cleared the cmrules tags by hand
    conn = make()
    org = conn.load(["100"], ["200"]).organisations["200"]
    assert org.writeback == {}  # so the core's writer calls apply
    assert conn.apply(note_for(org, "fp-1", "text")) is False  # block unchanged
    assert set(zd.puts[-1][1]) == {"tags"}
    assert zd.orgs[200]["tags"] == ["vip", "cmrules_flag_cmr_001", "cmrules_risk_high"]


def test_one_put_carries_notes_and_tags_merged_with_latest_human_edit(zd):
    conn = make()
    data = conn.load(["100"], ["200"])
    zd.orgs[200]["notes"] = "Edited by a human after load."  # between load and write
    conn.apply(note_for(data.organisations["200"], "fp-1", "finding"))
    ((org_id, body),) = zd.puts
    assert org_id == 200 and set(body) == {"notes", "tags"}
    assert body["notes"].startswith("Edited by a human after load.\n\n--- cmrules:begin fp-1")


def test_only_flags_changed_writes_only_tags(zd):
    run(zd, "fp-1", "text", rules=("CMR-001",))
    conn = make()
    data = conn.load(["100"], ["200"])
    note = note_for(data.organisations["200"], "fp-1", "text", ("CMR-001",), risk="medium")
    assert conn.apply(note) is False
    assert set(zd.puts[-1][1]) == {"tags"} and "cmrules_risk_medium" in zd.orgs[200]["tags"]


def test_notes_returns_the_current_block(zd):
    conn, _ = run(zd, "fp-9", "Line one\nLine two")
    (stored,) = conn.notes(conn._organisation(zd.orgs[200], OrgKind.COMPANY))
    assert stored.fingerprint == "fp-9" and stored.body == "Line one\nLine two"
    assert stored.created_at == T0 and stored.subject_id == "200"
    assert conn.note_exists(conn._organisation(zd.orgs[200], OrgKind.COMPANY), "fp-9")


def test_write_note_and_write_flags_each_merge(zd):
    conn = make()
    org = conn.load(["100"], ["200"]).organisations["200"]
    note = note_for(org, "fp-3", "body")
    assert conn.write_note(org, note) == "200:cmrules"
    conn.write_flags(org, note.flags)
    assert [set(b) for _, b in zd.puts] == [{"notes"}, {"tags"}]
    assert zd.orgs[200]["notes"].startswith("Human intro line.")


def test_write_error_is_clear(zd):
    zd.fail_next(
        "PUT",
        r"/organizations/200$",
        422,
        '{"error":"RecordInvalid","description":"Record validation errors",'
        '"details":{"notes":[{"description":"Notes is too long"}]}}',
        content_type="application/json",
    )
    conn = make()
    org = conn.load(["100"], ["200"]).organisations["200"]
    with pytest.raises(
        WriteError,
        match=r"'Acme' \(id 200\): writing notes/tags failed: "
        r".*HTTP 422: RecordInvalid; Record validation errors; "
        r"notes: Notes is too long",
    ):
        conn.apply(note_for(org, "fp-1", "x"))


# -- markers, merge, truncation -------------------------------------------------------------------
def test_merge_notes_rules():
    block = "--- cmrules:begin new ---\nB\n--- cmrules:end ---"
    assert merge_notes("", block, "w") == block
    assert merge_notes("human\n\n", block, "w") == "human\n\n" + block
    old = "a\n--- cmrules:begin old 2024-01-01T00:00:00Z ---\nold\n--- cmrules:end ---\nz"
    assert merge_notes(old, block, "w") == f"a\n{block}\nz"
    dup = old + "\n--- cmrules:begin older ---\nx\n--- cmrules:end ---\ntail"
    assert merge_notes(dup, block, "w") == f"a\n{block}\nz\ntail"
    crlf = "a\r\n--- cmrules:begin old ---\r\nold\r\n--- cmrules:end ---\r\nz"
    assert merge_notes(crlf, block, "w") == f"a\r\n{block}\r\nz"
    with pytest.raises(WriteError, match="without its '--- cmrules:end' line"):
        merge_notes("a\n--- cmrules:begin x ---\nhuman text after a damaged block", block, "w")


def test_marker_lines_in_note_text_are_neutralised_and_long_text_truncated():
    flags = Flags("high", ("R1",), T0, "fp")
    hostile = "ok\n--- cmrules:end ---\n--- cmrules:begin evil ---"
    note = RenderedNote(None, "fp", "", hostile, flags, "en")  # type: ignore[arg-type]
    block = render_block(note, 8000)
    assert read_block("human\n" + block + "\nafter").body == (
        "ok\n --- cmrules:end ---\n --- cmrules:begin evil ---"
    )
    long = RenderedNote(None, "fp", "", "\n".join(["x" * 99] * 100), flags, "en")  # type: ignore
    text = render_block(long, 1000)
    parsed = read_block(text)
    assert parsed.fingerprint == "fp" and len(parsed.body) < 1100
    assert parsed.body.endswith("run `cmrules evaluate` for the full report)")
    assert "truncated: 9000 more characters" in parsed.body


def test_tags_helpers():
    flags = Flags("high", ("CMR-001", "cmr001", "Rule 7!"), T0, "fp")
    assert flag_tags(flags) == {
        "cmrules_risk_high",
        "cmrules_flag_cmr_001",
        "cmrules_flag_cmr001",
        "cmrules_flag_rule_7",
    }
    assert merge_tags(["b", "cmrules_risk_low", "a"], {"cmrules_risk_high"}) == [
        "b",
        "a",
        "cmrules_risk_high",
    ]


def _with_history(org, fingerprint, text, history):
    from dataclasses import replace

    note = note_for(org, fingerprint, text)
    return replace(note, flags=replace(note.flags, history=history))


def test_flag_history_goes_to_the_cmrules_history_field_when_it_exists(zd):
    """An admin created the organisation field: the history rides in the same PUT as the
    block and tags, is read back, and an unchanged rerun makes no call; a waiver filled in on
    the organisation's fields reaches the core raw."""
    zd.orgs[200]["organization_fields"].update({
        "cmrules_history": None, "cmrules_waived_rules": "CMR010",
        "cmrules_waiver_reason": "Review in January", "cmrules_waiver_until": "2026-12-31",
    })  # fmt: skip
    conn = make()
    org = conn.load(["100"], ["200"]).organisations["200"]
    assert org.waivers[0]["rules"] == "CMR010" and org.waivers[0]["origin"] == "crm"
    hist = '{"v":1,"open":{"CMR001@100":"2026-11-20"},"waived":{},"log":[]}'
    assert conn.apply(_with_history(org, "fp-1", "text", hist)) is True
    assert len(zd.puts) == 1 and zd.orgs[200]["organization_fields"]["cmrules_history"] == hist
    assert zd.orgs[200]["organization_fields"]["cmrules_waived_rules"] == "CMR010"  # kept
    conn = make()
    org = conn.load(["100"], ["200"]).organisations["200"]
    assert org.writeback == {"fingerprint": "fp-1", "history": hist}
    before = len(zd.log)
    assert conn.apply(_with_history(org, "fp-1", "text", hist)) is False
    assert len(zd.log) == before


def test_without_the_history_field_nothing_is_sent_for_it(zd):
    conn = make()
    org = conn.load(["100"], ["200"]).organisations["200"]
    conn.apply(_with_history(org, "fp-1", "text", '{"v":1}'))
    assert "organization_fields" not in zd.puts[-1][1]
    org = make().load(["100"], ["200"]).organisations["200"]
    assert org.writeback == {"fingerprint": "fp-1"}  # judged on the fingerprint alone


def test_secrets_never_logged_or_in_errors(zd, caplog):
    caplog.set_level(logging.DEBUG)
    zd.fail_next("GET", r"/organizations/100$", 429, "slow down", headers={"Retry-After": "1"})
    conn, _ = run(zd, "fp-1", "x")
    zd.require_auth = "Basic other"
    with pytest.raises(AuthError) as err:
        make().check()
    secrets = (TOKEN, AUTH.split()[1], f"{EMAIL}/token")
    for secret in secrets:
        assert secret not in caplog.text
        assert secret not in str(err.value)
        assert secret not in conn.describe()
    assert "retrying in 1.0s" in caplog.text  # the log was captured at DEBUG
