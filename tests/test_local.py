from __future__ import annotations

import textwrap

import pytest

from cmrules.connectors.local import LocalConnector, import_file
from cmrules.errors import UsageError
from cmrules.model import OrgKind

ROWS = """\
organisations:
  - {id: v1, name: Agence Un, kind: vendor}
  - {id: c1, name: Client Un, kind: company}
contacts:
  - {id: p1, name: Alice, org: c1, roles: [project_owner],
     attributes: {social_media_familiar: "true"}}
activities:
  - {id: m1, kind: meeting, date: "2026-10-01T10:00:00Z", company: c1, vendor: v1, contacts: [p1]}
engagements:
  - {company: c1, vendor: v1, started: 2025-01-01, attributes: {kpis_defined: "false"}}
"""


@pytest.fixture
def conn(tmp_path):
    c = LocalConnector({"path": str(tmp_path / "db.sqlite3"), "demo": False})
    yield c
    c.close()


def write(tmp_path, text, name="data.yaml"):
    p = tmp_path / name
    p.write_text(textwrap.dedent(text), encoding="utf-8")
    return p


def test_import_and_load(conn, tmp_path):
    counts = import_file(conn, write(tmp_path, ROWS))
    assert counts == {"organisations": 2, "contacts": 1, "activities": 1, "engagements": 1}
    ds = conn.load(["v1"])
    assert set(ds.organisations) == {"v1", "c1"}
    (alice,) = ds.contacts
    assert alice.attributes == {"social_media_familiar": True}
    assert ds.engagements[0].attributes == {"kpis_defined": False}
    assert ds.activities[0].timestamp.isoformat() == "2026-10-01T10:00:00+00:00"


def test_import_is_idempotent(conn, tmp_path):
    path = write(tmp_path, ROWS)
    import_file(conn, path)
    import_file(conn, path)
    assert len(conn.load(["v1"]).contacts) == 1


@pytest.mark.parametrize(
    ("bad", "needle"),
    [
        (
            ROWS.replace("kind: meeting", "kind: meating"),
            "activities[0]: kind 'meating' is not one of",
        ),
        (ROWS.replace("org: c1, roles", "org: c9, roles"), "contacts[0]: org 'c9' is not a known"),
        (ROWS.replace('date: "2026-10-01T10:00:00Z"', "date: yesterday"), "not a date"),
        (ROWS.replace("roles: [project_owner]", "roles: [boss]"), "role 'boss' is not one of"),
        (
            ROWS.replace("{company: c1, vendor: v1, started", "{company: v1, vendor: v1, started"),
            "is a vendor, expected a company",
        ),
        (
            ROWS.replace("{id: v1, name: Agence Un", "{id: v1, nom: Agence Un"),
            "unknown field 'nom'",
        ),
    ],
)
def test_bad_row_names_file_row_and_line_and_commits_nothing(conn, tmp_path, bad, needle):
    path = write(tmp_path, bad)
    with pytest.raises(UsageError) as exc:
        import_file(conn, path)
    msg = str(exc.value)
    assert needle in msg and str(path) in msg and "nothing was imported" in msg
    assert conn.organisations() == []  # the good rows before it were rolled back


def test_bad_file(conn, tmp_path):
    with pytest.raises(UsageError, match="no such file: .*missing.yaml"):
        import_file(conn, tmp_path / "missing.yaml")
    with pytest.raises(UsageError, match="unknown section"):
        import_file(conn, write(tmp_path, "companies: []\n"))


def test_json_import(conn, tmp_path):
    import json

    import yaml

    data = yaml.safe_load(ROWS)
    path = write(tmp_path, json.dumps(data, default=str), "data.json")
    assert import_file(conn, path)["organisations"] == 2


def test_demo_is_created_on_first_use(tmp_path):
    conn = LocalConnector({"path": str(tmp_path / "demo.sqlite3")})
    vendors = conn.organisations(OrgKind.VENDOR)
    assert conn.created and len(vendors) >= 1
    conn.close()
    again = LocalConnector({"path": str(tmp_path / "demo.sqlite3")})
    assert again.organisations(OrgKind.VENDOR) and not again.created
    again.close()


def test_example_import_file(conn):
    from pathlib import Path

    example = Path(__file__).parent.parent / "examples" / "import-example.yaml"
    counts = import_file(conn, example)
    assert counts["organisations"] >= 2
