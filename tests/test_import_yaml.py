"""``local import`` of YAML read one row at a time (#11): the same store as a document read
whole, anchors and merge keys across rows, the alias budget over the whole file, one error
with its line, nothing partial committed."""

from __future__ import annotations

import pytest
import yaml
from test_import_json import DATA, dump, error, line_of, write

from cmrules.connectors.local import LocalConnector, import_file
from cmrules.connectors.local.importer import import_data
from cmrules.yamlutil import load_with_lines


@pytest.fixture
def conn(tmp_path):
    c = LocalConnector({"path": str(tmp_path / "db.sqlite3"), "demo": False})
    yield c
    c.close()


def whole(tmp_path, text: str) -> list[tuple[object, ...]]:
    """The store the same text makes when read whole (the rule tests' ``dataset:`` path)."""
    c = LocalConnector({"path": str(tmp_path / "whole.sqlite3"), "demo": False})
    data, lines = load_with_lines(text, line_depth=2)
    import_data(c, data, lines, "whole.yaml")
    rows = dump(c, skip_updated=True)
    c.close()
    return rows


ANCHORS = """\
organisations:
  - &agency {id: v1, name: "Agence Hashtag & Co", kind: vendor}
  - {id: c1, name: "Boulangerie Martin", kind: company, attributes: &attrs {regulated: non}}
  - {id: c2, name: "Cabinet Durand", kind: company, attributes: *attrs}
contacts:
  - &claire {id: p1, name: Claire Martin, org: c1, roles: [project_owner]}
  - {<<: *claire, id: p2, org: c2}
engagements:
  - {company: c1, vendor: v1, started: 2025-01-01}
  - {company: c2, vendor: v1, started: 2024-06-01}
"""


def test_anchors_and_merge_keys_across_rows_read_as_a_whole_document(conn, tmp_path):
    path = tmp_path / "a.yaml"
    path.write_text(ANCHORS, "utf-8")
    counts = import_file(conn, path)
    assert counts == {"organisations": 3, "contacts": 2, "activities": 0, "engagements": 2}
    assert dump(conn, skip_updated=True) == whole(tmp_path, ANCHORS)


def test_sections_in_any_order_and_null_sections(conn, tmp_path):
    reordered = {k: DATA[k] for k in ("engagements", "contacts", "organisations", "activities")}
    path = write(tmp_path, {**reordered, "activities": None}, "r.yaml")
    assert import_file(conn, path)["engagements"] == 2
    assert conn.db.execute("SELECT count(*) FROM activities").fetchone() == (0,)


def test_an_alias_bomb_spread_over_rows_is_refused_with_its_line(tmp_path):
    # each row alone expands little; the file as a whole would build millions of values
    from cmrules.connectors.local.yamlrows import YamlRows
    from cmrules.errors import UsageError

    levels = ["  - &a0 [x, x, x, x, x, x, x, x, x, x]"]
    levels += [f"  - &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 4)]
    rows = "\n".join(levels + [f"  - {{id: c{i}, name: *a3}}" for i in range(200)])
    path = tmp_path / "bomb.yaml"
    path.write_text(f"organisations:\n{rows}\n", "utf-8")
    read = 0
    with pytest.raises(UsageError) as exc:
        for _, rows_of in YamlRows(path).sections(("organisations",)):
            for _ in rows_of:
                read += 1
    msg = str(exc.value)
    assert msg.startswith(f"{path}:") and "aliases (*name) expand this file" in msg, msg
    line = int(msg.split(":")[1])
    assert line == read + 2 and 10 < read < 200  # the row where the budget ran out


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("organisations:\n  - {id: v1, id: v2}\n", "duplicate key 'id'"),
        ("organisations: []\norganisations: []\n", "key 'organisations' (first at line 1)"),
        ("1: []\n", "key 1 is not a text key"),
        ("clients: []\n", "unknown section 'clients'"),
        ("organisations: {id: v1}\n", "organisations must be a list"),
        ("- organisations\n", "expected a mapping with keys"),
        ("", "expected a mapping with keys"),
        ("organisations: []\n---\nactivities: []\n", "expected a single document"),
        ("organisations:\n  - {id: v1, date: 2026-02-30}\n", "impossible date"),
        ("organisations:\n  - {id: v1\n", "not valid YAML"),
        ("organisations:\n  - " + "[" * 70 + "]" * 70 + "\n", "nested deeper than 64 levels"),
    ],
)  # fmt: skip
def test_one_error_with_its_line_and_nothing_committed(conn, tmp_path, text, needle):
    path = tmp_path / "bad.yaml"
    path.write_text("organisations:\n  - {id: v0, name: Agence, kind: vendor}\n", "utf-8")
    import_file(conn, path)  # something already stored: a failed import must not change it
    path.write_text(text, "utf-8")
    msg = error(conn, path)
    assert msg.startswith(f"{path}:") and needle in msg, msg


def test_a_bad_last_row_names_its_line(conn, tmp_path):
    data = {"organisations": [{"id": f"c{i}", "name": f"Client {i}", "kind": "company"}
                              for i in range(3000)]}  # fmt: skip
    data["organisations"][-1]["kind"] = "compagnie"
    path = write(tmp_path, data, "big.yaml")
    msg = error(conn, path)
    row = line_of(path, "id: c2999")  # where the row starts, as when read whole
    assert msg.startswith(f"{path}:{row}: organisations[2999]"), msg


def test_not_utf8_and_missing_files_are_worded(conn, tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes("organisations:\n  - {id: v1, name: Agence Été}\n".encode("latin-1"))
    assert "is not UTF-8 (byte" in error(conn, path)
    assert "no such file" in error(conn, tmp_path / "missing.yaml")


def test_chunk_boundaries_change_nothing(tmp_path, monkeypatch):
    from cmrules.connectors.local import yamlrows

    data = yaml.safe_load(ANCHORS)
    data["organisations"][1]["name"] = "Boulangerie Martin’s 🥐 " + "é" * 40
    path = tmp_path / "c.yaml"
    path.write_text(ANCHORS.replace("Boulangerie Martin", data["organisations"][1]["name"]))
    reference = whole(tmp_path, path.read_text())
    monkeypatch.setattr(yamlrows, "CHUNK", 7)
    small = LocalConnector({"path": str(tmp_path / "small.sqlite3"), "demo": False})
    import_file(small, path)
    assert dump(small, skip_updated=True) == reference
    small.close()
