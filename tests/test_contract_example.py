"""The example connector (examples/folder_connector.py), installed the way a third-party plugin
is — an entry point in the ``cmrules.connectors`` group of a distribution on the path — passes
the contract kit, and the core builds it from a config file like any other source."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from cmrules import config
from cmrules.connector import Connector, ConnectorContext, available_connectors, connector_class
from cmrules.errors import ConfigError, WriteError
from cmrules.service import build_connector
from cmrules.testing import ConnectorContract, ContractHarness, SimulatedCrash

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

RECORDS = {
    "organisations.json": [
        {"id": "v1", "name": "Studio Mistral", "kind": "vendor", "domain": "mistral.example"},
        {"id": "c1", "name": "Cave Coopérative", "kind": "company",
         "attributes": {"regulated": "false", "industry": "viticulture"}},
        {"id": "c2", "name": "Clinique du Parc", "kind": "company",
         "attributes": {"regulated": "oui"}},
        {"id": "c3", "name": "Camping Les Pins", "kind": "company",
         "attributes": {"regulated": "", "industry": " "}},
        {"id": "c4", "name": "Ferme Bio", "kind": "company"},
    ],
    "contacts.json": [
        {"id": "p1", "name": "Jeanne Roux", "org": "c1", "roles": ["project_owner"]},
        {"id": "p2", "name": "Hugo Lenoir", "org": "v1", "roles": ["vendor_referent"]},
    ],
    "activities.json": [
        {"id": "a1", "kind": "meeting", "date": "2026-10-05T09:00:00Z", "company": "c1",
         "vendor": "v1", "side": "vendor", "contacts": ["p1", "p2"]},
        {"id": "a2", "kind": "email", "company": "c2", "vendor": "v1"},
    ],
    "engagements.json": [{"company": c, "vendor": "v1"} for c in ("c1", "c2", "c3", "c4")],
}  # fmt: skip


@pytest.fixture
def plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Install the example as a plugin: a dist-info with its entry point, on sys.path."""
    dist = tmp_path / "site" / "cmrules_folder_example-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: cmrules-folder-example\n")
    (dist / "entry_points.txt").write_text(
        "[cmrules.connectors]\nfolder = folder_connector:FolderConnector\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.syspath_prepend(str(EXAMPLES))
    monkeypatch.delitem(sys.modules, "folder_connector", raising=False)


def write_folder(folder: Path) -> None:
    folder.mkdir()
    for name, rows in RECORDS.items():
        (folder / name).write_text(json.dumps(rows), "utf-8")


class FolderHarness(ContractHarness):
    error_kinds = ("unavailable",)  # files: no credentials, no quota

    def __init__(self, folder: Path):
        self.folder = folder
        self.cls = connector_class("folder")  # through the registry, as the core does
        self.seen: set[tuple[str, int]] = set()
        self.pending: tuple[str, bool] | None = None
        self.write_count()

    def connector(self) -> Connector:
        conn = self.cls({"path": str(self.folder)}, ConnectorContext())
        if self.pending is not None:
            step, crash = self.pending
            self.pending = None
            method = "write_note" if step == "note" else "write_flags"

            def fail(*args: object) -> None:
                raise SimulatedCrash(step) if crash else WriteError(f"{step}: disk full")

            setattr(conn, method, fail)
        return conn

    def vendor_id(self) -> str:
        return "v1"

    def client_ids(self) -> set[str]:
        return {"c1", "c2", "c3", "c4"}

    def unknown_attributes(self) -> dict[str, set[str]]:
        return {"c3": {"regulated", "industry"}, "c4": {"regulated"}}

    def write_count(self) -> int:
        # every replaced file has a new modification time: count each one seen
        for path in self.folder.glob("*.json"):
            self.seen.add((path.name, path.stat().st_mtime_ns))
        return len(self.seen)

    def fail_next(self, step: str, crash: bool) -> None:
        self.pending = (step, crash)

    def break_source(self, kind: str) -> None:
        (self.folder / "organisations.json").write_text("{not json", "utf-8")


class TestExampleConnectorContract(ConnectorContract):
    @pytest.fixture
    def harness(self, tmp_path: Path, plugin: None) -> FolderHarness:
        write_folder(tmp_path / "crm")
        return FolderHarness(tmp_path / "crm")


def test_the_core_builds_the_plugin_from_a_config_file(tmp_path, plugin):
    assert "folder" in available_connectors()
    write_folder(tmp_path / "crm")
    cfg_path = tmp_path / "cmrules.yaml"
    cfg_path.write_text(f"source: folder\nfolder:\n  path: {tmp_path / 'crm'}\n", "utf-8")
    connector = build_connector(config.load(cfg_path), ConnectorContext())
    assert connector.load(["v1"]).organisations["c1"].name == "Cave Coopérative"
    cfg_path.write_text("source: folder\nfolder:\n  path: x\n  folder: x\n", "utf-8")
    with pytest.raises(ConfigError, match=r"cmrules.yaml:4: unknown key folder.folder"):
        build_connector(config.load(cfg_path), ConnectorContext())
    cfg_path.write_text("source: folder\nfolder:\n  pth: x\n", "utf-8")
    with pytest.raises(ConfigError, match=r"cmrules.yaml:2: folder.path is required"):
        build_connector(config.load(cfg_path), ConnectorContext())


def test_the_example_stays_minimal():
    assert len((EXAMPLES / "folder_connector.py").read_text("utf-8").splitlines()) <= 150
