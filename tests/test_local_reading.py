"""The local store's short paths read rows exactly as the general parsers do."""

import pytest

from cmrules.connectors.local import reading
from cmrules.model import ActivityKind, Side
from cmrules.values import parse_datetime


@pytest.mark.parametrize(
    "text",
    ["2026-10-03T17:37:00Z", "2026-10-03T17:37:00.250Z", "2026-10-03T19:37:00+02:00",
     "2026-10-03", "1700000000000", "", None, "2026-10-03t17:37:00z"],
)  # fmt: skip
def test_instant_is_parse_datetime(text):
    assert reading.instant(text) == parse_datetime(text)
    if text:
        assert reading.instant(text).tzinfo == parse_datetime(text).tzinfo


@pytest.mark.parametrize("text", ["2026-13-03T17:37:00Z", "2026-10-03T25:37:00Z", "bad date..Z"])
def test_a_bad_instant_fails_as_parse_datetime_does(text):
    with pytest.raises(ValueError) as short:
        reading.instant(text)
    with pytest.raises(ValueError) as general:
        parse_datetime(text)
    assert str(short.value) == str(general.value)


def test_activity_row_short_paths_and_unknown_values():
    row = ["a1", "meeting", "2026-10-03T17:37:00Z", "c1", "v1", "vendor", "[]", None, None,
           '["strategy"]', "Bilan", None, None]  # fmt: skip
    a = reading.activity(row)
    assert (a.kind, a.side, a.contact_ids, a.tags) == (
        ActivityKind.MEETING, Side.VENDOR, (), frozenset({"strategy"}))  # fmt: skip
    with pytest.raises(ValueError):
        reading.activity(["a2", "telegram", *row[2:]])  # a kind the model does not know
