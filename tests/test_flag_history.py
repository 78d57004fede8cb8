"""A record's flag history: first seen, resolved, waived, back after a waiver ends."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from cmrules import flaghistory as history
from cmrules.engine import CANNOT_ASSESS, FIRED, Outcome
from cmrules.findings import WAIVED, Subject, build
from cmrules.signals import SignalValue

DAY1 = datetime(2026, 11, 20, 12, tzinfo=UTC)
DAY2 = datetime(2026, 11, 27, 12, tzinfo=UTC)


def fired(rulebook, rule_id, vendor="v1", status=FIRED):
    rule = rulebook.get(rule_id)
    values = {s: SignalValue(0 if status == FIRED else None) for s in rule.signals}
    return build(rule, Outcome(rule_id, status), Subject("c1", "Acme", "company", vendor), values)


def test_first_seen_is_kept_and_resolution_is_logged(rulebook):
    h1, ch1 = history.update(history.History(), [fired(rulebook, "CMR008")], DAY1)
    assert h1.open == {"CMR008@v1": "2026-11-20"} and [f.rule_id for f in ch1.new] == ["CMR008"]
    again, ch = history.update(history.loads(h1.dumps()), [fired(rulebook, "CMR008")], DAY2)
    assert again.dumps() == h1.dumps() and not ch  # unchanged data: identical value, no write
    h2, ch2 = history.update(h1, [fired(rulebook, "CMR014")], DAY2)
    assert h2.open == {"CMR014@v1": "2026-11-27"} and ch2.resolved == ["CMR008@v1"]
    assert h2.log[-1] == ("2026-11-27", "resolved", "CMR008", "v1")


def test_missing_data_is_not_good_news_and_other_vendors_are_left_alone(rulebook):
    h1, _ = history.update(
        history.History(), [fired(rulebook, "CMR008"), fired(rulebook, "CMR008", "v2")], DAY1
    )
    unknown = fired(rulebook, "CMR008", status=CANNOT_ASSESS)
    h2, ch = history.update(h1, [unknown], DAY2, vendor_ids=["v1"])
    assert h2.open == h1.open and not ch.resolved


def test_waived_then_back(rulebook):
    f = fired(rulebook, "CMR017")
    w = replace(f, status=WAIVED, waiver={"until": "2027-01-31", "reason": "r"})
    h1, _ = history.update(history.History(), [f], DAY1)
    h2, ch2 = history.update(h1, [w], DAY2)
    assert h2.waived == {"CMR017@v1": "2027-01-31"} and ch2.waived == [w]
    h3, ch3 = history.update(h2, [f], DAY2)
    assert ch3.returned == [f] and h3.open["CMR017@v1"] == "2026-11-20" and not h3.waived


def test_unreadable_stored_value_starts_afresh():
    for raw in ("", "{", "[]", '{"v": 99}', '{"v":1,"open":[1]}', '{"v":1,"log":[[1]]}'):
        assert history.loads(raw).open == {}
