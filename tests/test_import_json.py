"""``local import`` of JSON read one row at a time (#11): a bad row is still one error naming
file:line, nothing partial is committed, and JSON is held to the same strictness as YAML
(duplicate keys, NaN, huge numbers, deep nesting are errors, not a silent last value)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
import yaml

from cmrules.connectors.local import LocalConnector, import_file
from cmrules.errors import UsageError

DATA = {
    "organisations": [
        {"id": "v1", "name": "Agence Hashtag & Co", "kind": "vendor"},
        {"id": "c1", "name": "Boulangerie Martin", "kind": "company",
         "attributes": {"regulated": "non"}},
        {"id": "c2", "name": "Cabinet Durand", "kind": "company"},
    ],
    "contacts": [
        {"id": "p1", "name": "Claire Martin", "org": "c1", "roles": ["project_owner"],
         "attributes": {"social_media_familiar": "true"}},
        {"id": "p2", "name": "Marc Durand", "org": "c2", "roles": "executive_sponsor"},
    ],
    "activities": [
        {"id": "m1", "kind": "meeting", "date": "2026-10-01T10:00:00Z", "company": "c1",
         "vendor": "v1", "contacts": ["p1"]},
        {"id": "t1", "kind": "ticket", "date": "1761912000000", "company": "c2",
         "side": "company", "first_reply_minutes": "1 200,5", "replies": 3},
    ],
    "engagements": [
        {"company": "c1", "vendor": "v1", "started": "2025-01-01",
         "attributes": {"kpis_defined": "false"}},
        {"company": "c2", "vendor": "v1", "started": "2024-06-01"},
    ],
}  # fmt: skip
TABLES = ("organisations", "contacts", "activities", "engagements", "notes", "flags")


@pytest.fixture
def conn(tmp_path):
    c = LocalConnector({"path": str(tmp_path / "db.sqlite3"), "demo": False})
    yield c
    c.close()


def dump(conn: LocalConnector, skip_updated: bool = False) -> list[tuple[object, ...]]:
    rows = []
    for table in TABLES:
        cur = conn.db.execute(f"SELECT * FROM {table} ORDER BY 1, 2")  # noqa: S608
        names = [d[0] for d in cur.description]
        for r in cur:
            rows.append(tuple(v for n, v in zip(names, r, strict=True)
                              if not (skip_updated and n == "updated_at")))  # fmt: skip
    return rows


def write(tmp_path: Path, data: object, name: str = "data.json", indent: int | None = 2) -> Path:
    path = tmp_path / name
    if name.endswith(".json"):
        path.write_text(json.dumps(data, indent=indent, ensure_ascii=False), encoding="utf-8")
    else:
        path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), "utf-8")
    return path


def line_of(path: Path, needle: str, nth: int = -1) -> int:
    """Line of the ``nth`` occurrence of ``needle``."""
    return [i for i, t in enumerate(path.read_text().splitlines(), 1) if needle in t][nth]


def error(conn: LocalConnector, path: Path) -> str:
    before = dump(conn)
    with pytest.raises(UsageError) as exc:
        import_file(conn, path)
    assert dump(conn) == before, "a failed import changed the store"
    return str(exc.value)


def test_json_and_yaml_give_the_same_store(tmp_path):
    # the fast JSON reader and the YAML path are two doors to one import
    stores = []
    for name in ("data.json", "data.yaml"):
        c = LocalConnector({"path": str(tmp_path / f"{name}.sqlite3"), "demo": False})
        counts = import_file(c, write(tmp_path, DATA, name))
        assert counts == {"organisations": 3, "contacts": 2, "activities": 2, "engagements": 2}
        stores.append(dump(c, skip_updated=True))
        c.close()
    assert stores[0] == stores[1]
    assert stores[0][6][:3] == ("t1", "ticket", "2025-10-31T12:00:00Z")  # epoch ms, as HubSpot


def test_sections_may_come_in_any_order(conn, tmp_path):
    # an export tool writes engagements first: they refer to organisations written after them
    reordered = {k: DATA[k] for k in ("engagements", "contacts", "organisations", "activities")}
    import_file(conn, write(tmp_path, reordered))
    assert len(conn.load(["v1"]).engagements) == 2


def test_bad_last_row_names_its_line_and_leaves_the_store_unchanged(conn, tmp_path):
    import_file(conn, write(tmp_path, DATA))  # a store with data in it
    more = json.loads(json.dumps(DATA))
    more["organisations"].append({"id": "c3", "name": "Nouveau client", "kind": "company"})
    more["engagements"].append({"company": "c3", "vendor": "v9", "started": "2026-01-01"})
    path = write(tmp_path, more, "more.json")
    msg = error(conn, path)  # c3 inserted first, then rolled back with everything else
    line = line_of(path, '"vendor": "v9"') - 2  # the row's '{', above "company"
    assert msg.startswith(f"{path}:{line}: engagements[2]: vendor 'v9' is not a known")
    assert msg.endswith("nothing was imported")
    assert "c3" not in {o.id for o in conn.organisations()}


def test_error_lines_on_a_one_line_file_and_a_pretty_one(conn, tmp_path):
    bad = json.loads(json.dumps(DATA))
    bad["activities"][1]["kind"] = "tiket"
    compact = write(tmp_path, bad, "compact.json", indent=None)
    assert error(conn, compact).startswith(f"{compact}:1: activities[1]: kind 'tiket' is not")
    pretty = write(tmp_path, bad, "pretty.json")
    line = line_of(pretty, '"id": "t1"') - 1
    msg = error(conn, pretty)
    assert msg.startswith(f"{pretty}:{line}: activities[1]: kind 'tiket'")
    assert "did you mean 'ticket'?" in msg


def test_duplicate_id_names_both_lines(conn, tmp_path):
    dup = json.loads(json.dumps(DATA))
    dup["contacts"].append(dict(dup["contacts"][0], name="Claire M."))
    path = write(tmp_path, dup)
    first, again = line_of(path, '"id": "p1"', 0) - 1, line_of(path, '"id": "p1"') - 1
    msg = error(conn, path)  # a row's line is that of its '{', one above its "id"
    assert msg.startswith(f"{path}:{again}: contacts[2]: duplicate id 'p1' (also at line {first})")


BAD = [
        # a key twice in one object: json.loads silently keeps the last one
        ('{"organisations": [\n{"id": "c1", "name": "A",\n "name": "B", "kind": "company"}]}',
         3, "duplicate key 'name'; keep one"),
        ('{"organisations": [],\n "organisations": []}', 2, "duplicate key 'organisations'"),
        ('{"organisations": [\n{"id": "c1", "name": NaN, "kind": "company"}]}', 2,
         "NaN is not a JSON number"),
        ('{"activities": [\n{"id": "a", "replies": ' + "9" * 5000 + "}]}", 2,
         "a number is too large (more than 4,300 digits)"),
        ('{"organisations": [\n' + "[" * 100_000 + "]" * 100_000 + "]}", 2,
         "nested too deeply"),
        ('{"organisations": [\n{"id": "c1", "name": "A", "kind": "company"},\n]}', 3,
         "not valid JSON: expecting a value"),
        ('{"organisations": [\n{"id": "c1" "name": "A"}]}', 2,
         "not valid JSON: Expecting ',' delimiter"),
        ('{"organisations": []}\n{"contacts": []}', 2, "extra data after the top-level mapping"),
        ('{"organisations": [{"id": "c1", "name": "A", "kind": "company"}],\n"activities": [\n'
         '{"id": "a", "kind": "meeting", "company": "c1", "side": ["vendor"]}]}', 3,
         "activities[0]: side ['vendor'] is not one of"),
        ('{"companies": []}', 1, "unknown section 'companies'; expected organisations"),
        ('{\n"contacts": {"id": "p1"}}', 2, "contacts must be a list"),
        ("[]", 1, "expected a mapping with keys organisations"),
        ("", 1, "expected a mapping with keys organisations"),
        ("organisations: []\n", 1, "expected a mapping"),  # YAML in a .json file
]  # fmt: skip


@pytest.mark.parametrize(("text", "line", "needle"), BAD)
def test_strict_json_is_one_error_with_its_line(conn, tmp_path, text, line, needle):
    path = tmp_path / "bad.json"
    path.write_text(text, encoding="utf-8")
    msg = error(conn, path)
    assert msg.startswith(f"{path}:{line}: ") and needle in msg, msg


def test_json_bom_and_null_sections(conn, tmp_path):
    path = tmp_path / "bom.json"
    body = json.dumps({"organisations": DATA["organisations"], "contacts": None})
    path.write_bytes(b"\xef\xbb\xbf" + body.encode())
    assert import_file(conn, path)["organisations"] == 3


def test_json_replaces_a_demo_only_store(tmp_path):
    # the first import of one's own organisations replaces the bundled demo, as with YAML
    c = LocalConnector({"path": str(tmp_path / "demo.sqlite3")})
    assert c.organisations()
    counts = import_file(c, write(tmp_path, DATA), replace_demo=True)
    assert counts.pop("demo_replaced") == 1
    assert {o.id for o in c.organisations()} == {"v1", "c1", "c2"}
    c.close()


def test_json_of_demo_ids_only_keeps_the_demo(tmp_path):
    c = LocalConnector({"path": str(tmp_path / "demo.sqlite3")})
    before = {o.id for o in c.organisations()}
    demo_org = c.db.execute("SELECT id, name, kind FROM organisations LIMIT 1").fetchone()
    data = {"organisations": [{"id": demo_org[0], "name": demo_org[1], "kind": demo_org[2]}]}
    assert "demo_replaced" not in import_file(c, write(tmp_path, data), replace_demo=True)
    assert {o.id for o in c.organisations()} == before
    c.close()


def test_huge_file_error_is_read_not_kept(conn, tmp_path):
    # 20,000 good rows, then a bad one: the line is right and nothing stays in the store
    rows = [{"id": f"c{i}", "name": f"Client {i}", "kind": "company"} for i in range(20_000)]
    rows.append({"id": "x", "name": "X", "kind": "compagnie"})
    path = tmp_path / "big.json"
    path.write_text(json.dumps({"organisations": rows}, indent=1))
    line = len(path.read_text().splitlines()) - 6
    assert error(conn, path).startswith(f"{path}:{line}: organisations[20000]: kind 'compagnie'")
    assert sqlite3.connect(conn.path).execute("SELECT COUNT(*) FROM organisations").fetchone() == (
        0,
    )


@pytest.mark.parametrize("chunk", [1, 7, 64, 333])
def test_chunk_boundaries_change_nothing(tmp_path, monkeypatch, chunk):
    # the file is read 1 MB at a time: rows, strings, numbers and multi-byte characters cut by
    # a chunk's end read the same, and every error keeps its line
    from cmrules.connectors.local import jsonrows

    data = json.loads(json.dumps(DATA))
    data["organisations"][1]["name"] = "Boulangerie Martin’s 🥐 " + "é" * 40
    data["activities"][1]["replies"] = 123456789
    path = write(tmp_path, data, "data.json")
    whole = LocalConnector({"path": str(tmp_path / "whole.sqlite3"), "demo": False})
    import_file(whole, path)
    monkeypatch.setattr(jsonrows, "CHUNK", chunk)
    small = LocalConnector({"path": str(tmp_path / f"c{chunk}.sqlite3"), "demo": False})
    import_file(small, path)
    assert dump(small, skip_updated=True) == dump(whole, skip_updated=True)
    for text, line, needle in BAD:
        bad = tmp_path / "bad.json"
        bad.write_text(text, encoding="utf-8")
        msg = error(small, bad)
        assert msg.startswith(f"{bad}:{line}: ") and needle in msg, (chunk, msg)
    whole.close()
    small.close()


def test_a_string_longer_than_a_chunk(conn, tmp_path, monkeypatch):
    from cmrules.connectors.local import jsonrows

    monkeypatch.setattr(jsonrows, "CHUNK", 100)
    data = {"organisations": [{"id": "c1", "name": "x" * 1000, "kind": "company"}]}
    assert import_file(conn, write(tmp_path, data))["organisations"] == 1
    bad = tmp_path / "open.json"
    bad.write_text('{"organisations": [\n{"id": "c1", "name": "' + "x" * 1000)
    assert "Unterminated string" in error(conn, bad)
