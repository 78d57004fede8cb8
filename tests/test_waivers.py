"""Waivers: acknowledged flags with a reason and an expiry; invalid ones reported, not applied."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cmrules import service, waivers
from cmrules.errors import ConfigError

AS_OF = datetime(2026, 11, 20, 12, tzinfo=UTC)
RULES = ["CMR010", "CMR018"]


def parse(entry, **kw):
    return waivers.parse(entry, origin="crm", where="HubSpot company 1", known_rules=RULES,
                         as_of=AS_OF, **kw)  # fmt: skip


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ({"rules": "CMR010", "until": "2027-01-31"}, "no reason"),
        ({"rules": "CMR010", "reason": "r"}, "no expiry"),
        ({"rules": "CMR010", "reason": "r", "until": "soon"}, "not a date"),
        ({"rules": "CMR099", "reason": "r", "until": "2027-01-31"}, "unknown rule 'CMR099'"),
        ({"rules": "CMR010", "reason": "r", "until": "2026-11-19"}, "expired on 2026-11-19"),
        ({"rules": "CMR010", "reason": "r", "until": "2027-06-01"}, "more than the maximum"),
        ({"reason": "r", "until": "2027-01-31"}, "no rule id"),
    ],
)
def test_invalid_waivers_are_reported_never_applied(entry, problem):
    (w,) = parse(entry)
    assert not w.valid and problem in w.problem


def test_a_crm_field_can_list_several_rules_and_the_last_day_counts():
    ws = parse({"rules": "CMR010, CMR018", "reason": "Relaunch in January", "until": "2026-11-20"})
    assert [w.rule_id for w in ws] == RULES and all(w.valid for w in ws)  # until is inclusive
    assert parse({"rules": "CMR010", "reason": "r", "until": "2027-01-31"}, max_days=30)[0].problem


def _config(tmp_path, body):
    path = tmp_path / "cmrules.yaml"
    path.write_text(body, encoding="utf-8")
    return str(path)


WAIVER = """
waivers:
  max_days: 120
  entries:
    - rule: CMR010
      record: "Café*"
      vendor: Pixel Social
      reason: "Monthly meetings resume in January (new referent)"
      approved_by: Claire Martin
      until: 2026-12-15
    - rule: CMR018
      record: c-quai
      until: 2026-12-31
"""


def test_config_waiver_changes_only_its_flag_and_expires_between_two_runs(tmp_path):
    """Café Médina's meeting flag is waived until 15 December: the note shows it waived, the
    flag properties and --fail-on ignore it; on 16 December it is back by itself."""
    session = service.open_session(_config(tmp_path, WAIVER))
    before = service.evaluate(session, vendor="Pixel Social", as_of=AS_OF, write=False)
    medina = next(r for r in before.records if r.subject.name == "Café Médina")
    st = {f.rule_id: f.status for f in medina.findings}
    assert st["CMR010"] == "waived" and st["CMR008"] == "fired"
    assert "CMR010" not in medina.note.flags.rule_ids
    assert "[WAIVED]" in medina.note.text or "[SUSPENDU]" in medina.note.text
    assert "Claire Martin" in medina.note.text and "Monthly meetings resume" in medina.note.text
    quai = next(r for r in before.records if r.subject.name == "Éditions du Quai")
    assert {f.rule_id: f.status for f in quai.findings}["CMR018"] == "fired"  # no reason
    assert any("aucune raison" in w for w in before.warnings)  # in the run's language
    after = service.evaluate(
        session, vendor="Pixel Social", as_of=datetime(2026, 12, 16, tzinfo=UTC), write=False
    )
    medina2 = next(r for r in after.records if r.subject.name == "Café Médina")
    assert {f.rule_id: f.status for f in medina2.findings}["CMR010"] == "fired"
    assert "CMR010" in medina2.note.flags.rule_ids
    others = [r.note.fingerprint for r in before.records if r.subject.name != "Café Médina"]
    assert others  # only Café Médina's note depends on the waiver
    session.close()


def test_config_waiver_shape_errors_name_the_line(tmp_path):
    with pytest.raises(ConfigError, match=r"cmrules.yaml:5: unknown key 'expires'"):
        bad = (
            "waivers:\n  entries:\n    - rule: CMR010\n      reason: r\n      expires: 2027-01-01\n"
        )
        service.open_session(_config(tmp_path, bad))
    with pytest.raises(ConfigError, match="max_days must be a whole number"):
        service.open_session(_config(tmp_path, "waivers:\n  max_days: lots\n"))
