"""YAML import read one row at a time (#11), what ``test_import_yaml.py`` leaves out: memory
that does not grow with the file (it was ~60x), and every strict check of the whole-document
loader on the streaming path with **both** parsers — libyaml's and the pure-Python fallback —
each one error naming file:line with nothing committed."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest
import yaml
from test_import_json import DATA, dump, error, write

from cmrules import yamlutil
from cmrules.connectors.local import LocalConnector, import_file, yamlrows
from cmrules.connectors.local.rows import SECTIONS
from cmrules.connectors.local.yamlrows import YamlRows

LOADERS = [yamlutil._PyLoader] + ([yamlutil.STREAM_LOADER] if yaml.__with_libyaml__ else [])
ORG = "organisations:\n- {id: v1, name: Agence Hashtag & Co, kind: vendor}\n"
ACTIVITIES = ORG + "- {id: c1, name: Boulangerie Martin, kind: company}\nactivities:\n"


@pytest.fixture(params=LOADERS, ids=lambda c: c.__name__)
def loader(request, monkeypatch):
    monkeypatch.setattr(yamlrows, "STREAM_LOADER", request.param)
    return request.param


@pytest.fixture
def conn(tmp_path):
    c = LocalConnector({"path": str(tmp_path / "db.sqlite3"), "demo": False})
    import_file(c, write(tmp_path, DATA, "before.yaml"))  # a failed import must leave this
    yield c
    c.close()


def test_libyaml_parses_when_pyyaml_has_it():
    if yaml.__with_libyaml__:
        assert issubclass(yamlrows.STREAM_LOADER, yaml.cyaml.CParser)


def _portfolio(clients: int) -> str:
    """An agency's export, as a CRM would write it: ~330 bytes of YAML per client."""
    out = [ORG]
    for i in range(clients):
        out.append(f"- id: c{i}\n  name: L’Atelier {i}\n  kind: company\n"
                   f"  attributes: {{regulated: 'non', industry: santé}}\n")  # fmt: skip
    out.append("engagements:\n")
    for i in range(clients):
        out.append(f"- company: c{i}\n  vendor: v1\n  started: '2025-01-0{1 + i % 9}'\n"
                   "  attributes: {kpis_defined: 'true'}\n")  # fmt: skip
    return "".join(out)


def _peak(path: Path) -> int:
    """Python's peak allocations while every row of ``path`` is read."""
    tracemalloc.start()
    try:
        for _, rows in YamlRows(path).sections(SECTIONS):
            for line, row in rows:
                assert isinstance(row, dict) and line > 0
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_does_not_grow_with_the_file(loader, tmp_path, monkeypatch):
    # the old loader built the whole document before the first row (~60x the file in memory);
    # now eight times the rows take the same memory: a chunk (64 KB here), a row, the parser
    monkeypatch.setattr(yamlrows, "CHUNK", 1 << 16)
    small, big = tmp_path / "small.yaml", tmp_path / "big.yaml"
    small.write_text(_portfolio(1000), "utf-8")
    big.write_text(_portfolio(8000), "utf-8")
    peaks = _peak(small), _peak(big)
    assert peaks[1] < 1.5 * peaks[0], peaks
    assert peaks[1] < big.stat().st_size / 2, (peaks, big.stat().st_size)


def test_first_row_comes_before_the_file_is_read(loader, tmp_path, monkeypatch):
    monkeypatch.setattr(yamlrows, "CHUNK", 1 << 16)
    path = tmp_path / "big.yaml"
    path.write_text(_portfolio(4000), "utf-8")
    reader = YamlRows(path)
    sections = reader.sections(SECTIONS)  # kept: closing it disposes of the parser
    section, rows = next(sections)
    first = {"id": "v1", "kind": "vendor", "name": "Agence Hashtag & Co"}
    assert (section, next(rows)) == ("organisations", (2, first))
    assert reader.position <= 2 * yamlrows.CHUNK < path.stat().st_size / 4


def test_import_memory_stays_under_twice_the_file(tmp_path, monkeypatch):
    # the whole command path (checks, upserts): Python's own allocations peak under twice the
    # file (was ~60x) — what grows is the key of each row kept to refuse a duplicate, ~150
    # bytes a row; SQLite's pages are outside tracemalloc, bounded by its cache (64 KB chunks
    # here; the 1 MB chunk is a constant few MB, see the benchmark for 50 MB)
    monkeypatch.setattr(yamlrows, "CHUNK", 1 << 16)
    path = tmp_path / "big.yaml"
    path.write_text(_portfolio(8000), "utf-8")
    c = LocalConnector({"path": str(tmp_path / "db.sqlite3"), "demo": False})
    tracemalloc.start()
    try:
        counts = import_file(c, path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        c.close()
    assert counts == {"organisations": 8001, "contacts": 0, "activities": 0, "engagements": 8000}
    assert peak < 2 * path.stat().st_size, f"peak {peak:,} bytes for {path.stat().st_size:,}"


def _laughs_across_rows() -> str:
    # each row's tags are ten times the row before's: row 9 would stand for 10^9 values; the
    # budget is crossed at row 5 (111,110 values more than written so far)
    rows = ["- {id: a1, kind: meeting, date: 2026-10-01, company: c1, "
            "tags: &l1 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]}"]  # fmt: skip
    for i in range(2, 10):
        rows.append(f"- {{id: a{i}, kind: meeting, date: 2026-10-01, company: c1, tags: &l{i} ["
                    + ", ".join([f"*l{i - 1}"] * 10) + "]}")  # fmt: skip
    return ACTIVITIES + "\n".join(rows) + "\n"


def _many_small_aliases() -> str:
    # a 1,000-value list written once and aliased in 100 rows: 100,100 values more than
    # written, over the budget although no single row is
    rows = ["- {id: a0, kind: meeting, date: 2026-10-01, company: c1, "
            "tags: &t [" + ", ".join(f"t{k}" for k in range(1000)) + "]}"]  # fmt: skip
    rows += [f"- {{id: a{i}, kind: meeting, date: 2026-10-01, company: c1, tags: *t}}"
             for i in range(1, 101)]  # fmt: skip
    return ACTIVITIES + "\n".join(rows) + "\n"


BAD = [
    (ORG + "- id: c1\n  name: A\n  name: B\n  kind: company\n", 5,
     "not valid YAML: duplicate key 'name' (first at line 4); keep one"),
    (ORG + "- {id: c1, 1: x, kind: company}\n", 3, "key 1 is not a text key"),
    (ACTIVITIES + "- {id: a1, kind: meeting, company: c1, date: 2026-02-30}\n", 5,
     "impossible date or time '2026-02-30'"),
    (ACTIVITIES + "- {id: a1, kind: meeting, company: c1, replies: " + "9" * 5000 + "}\n", 5,
     "a 5000-digit number is too large"),
    (ORG + "- {id: c1, kind: company, name: " + "[" * 62 + "]" * 62 + "}\n", 3,
     "nested deeper than 64 levels"),
    (ORG + "- {id: c1, kind: company, name: " + "[" * 5000 + "]" * 5000 + "}\n", 3,
     "nested deeper than 64 levels"),
    (ORG + "- {id: c1, kind: company, name: !!python/object/apply:os.system ['true']}\n", 3,
     "could not determine a constructor"),
    (ORG + "- {id: c1, kind: company, name: &n [*n]}\n", 3, "refers to its own anchor"),
    (ORG + "- {id: c1, kind: company, name: *nowhere}\n", 3, "found undefined alias"),
    (_laughs_across_rows(), 9, "aliases (*name) expand this file to"),
    (_many_small_aliases(), 105, "aliases (*name) expand this file to"),
    (ORG + "contacts: []\norganisations: []\n", 4, "duplicate key 'organisations' (first at l"),
    (ORG + "clients: []\n", 3, "unknown section 'clients'; expected organisations, contacts"),
    (ORG + "contacts: {p1: x}\n", 3, "contacts must be a list"),
    (ORG + "contacts: Claire\n", 3, "contacts must be a list"),
    ("", 1, "expected a mapping with keys organisations"),
    ("- {id: c1}\n", 1, "expected a mapping with keys organisations"),
    (ORG + "---\ncontacts: []\n", 3, "expected a single document in the stream"),
    (ORG + "- {id: c1, name: [Martin, kind: company}\n", 3, "not valid YAML"),
    (ORG + "- {id: c1, name: Martin, kind: compagnie}\n", 3, "organisations[1]: kind 'compag"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "line", "needle"), BAD)
def test_strict_yaml_is_one_error_with_its_line(loader, conn, tmp_path, text, line, needle):
    # each problem after good rows: one error with the file and line, the store untouched
    path = tmp_path / "bad.yaml"
    path.write_text(text, "utf-8")
    msg = error(conn, path)
    assert msg.startswith(f"{path}:{line}: ") and needle in msg, msg
    assert "\n" not in msg


def test_not_utf8_far_into_the_file(loader, conn, tmp_path, monkeypatch):
    # a Latin-1 "é" in the second chunk, after rows already inserted: the byte is named
    monkeypatch.setattr(yamlrows, "CHUNK", 64)
    text = ORG + "".join(f"- {{id: c{i}, name: C{i}, kind: company}}\n" for i in range(20))
    path = tmp_path / "latin1.yaml"
    latin1 = "- {id: c99, name: Caf\xe9, kind: company}\n".encode("latin-1")
    path.write_bytes(text.encode() + latin1)
    msg = error(conn, path)
    assert msg == f"{path} is not UTF-8 (byte {len(text.encode()) + 21}): save it as UTF-8"


def test_same_store_as_the_whole_document_reader(loader, tmp_path):
    # an anchored section, a null one, a BOM, organisations last, CRM spellings — with both
    # parsers: the stream gives what yaml.safe_load of the whole file gives, same checks
    text = ("\ufeffcontacts: ~\nengagements:\n- {company: c1, vendor: v1, started: 2025-01-01, "
            "attributes: {kpis_defined: 'false'}}\norganisations: &o\n"
            "- {id: v1, name: Agence Hashtag & Co, kind: vendor}\n"
            "- {id: c1, name: L’Atelier, kind: company, attributes: {regulated: oui}}\n"
            "activities:\n- {id: t1, kind: ticket, date: 1761912000000, company: c1, "
            "side: company, first_reply_minutes: '1 200,5', replies: 3}\n")  # fmt: skip
    path = tmp_path / "mixed.yaml"
    path.write_text(text, "utf-8")
    streamed = LocalConnector({"path": str(tmp_path / "s.sqlite3"), "demo": False})
    counts = import_file(streamed, path)
    whole = LocalConnector({"path": str(tmp_path / "w.sqlite3"), "demo": False})
    data = yaml.safe_load(text.lstrip("\ufeff"))
    lines = {(k,): 1 for k in data}
    assert whole.import_data(data, lines, str(path)) == counts
    assert counts == {"organisations": 2, "contacts": 0, "activities": 1, "engagements": 1}
    assert dump(streamed, skip_updated=True) == dump(whole, skip_updated=True)
    streamed.close()
    whole.close()


def test_progress_counts_bytes_to_the_end(tmp_path, monkeypatch):
    monkeypatch.setattr(yamlrows, "CHUNK", 1 << 16)
    events = []
    path = tmp_path / "big.yaml"
    path.write_text(_portfolio(1500), "utf-8")
    c = LocalConnector({"path": str(tmp_path / "db.sqlite3"), "demo": False})
    import_file(c, path, on_progress=events.append)
    c.close()
    done = [e.done for e in events if e.phase == "import"]
    assert {e.unit for e in events} == {"bytes"} and events[0].total == path.stat().st_size
    assert done == sorted(done) and len(set(done)) > 3 and done[-1] == path.stat().st_size
