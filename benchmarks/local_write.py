"""Local write-back benchmark: the first sync of a generated local portfolio, today's batched
transactions (100 records per commit, write-ahead log) against the previous way (a commit for
each note and each flag update, rollback journal), on two copies of the same store, in one run.

    python benchmarks/local_write.py [--clients 2000]

Prints wall-clock and CPU seconds of each first sync (every record written) and the ratio;
the fsyncs of the commits are wall-clock time, so wall time is the figure that matters here.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import local_portfolio as portfolio  # noqa: E402

from cmrules import service  # noqa: E402
from cmrules.connector import Connector  # noqa: E402
from cmrules.connectors.local import LocalConnector  # noqa: E402


class PerRecordCommits(LocalConnector):
    """The previous write path: no batch transaction, rollback journal."""

    write_batch_size = 1

    @property
    def db(self) -> Any:
        db = super().db
        if not getattr(self, "_journal_set", False):
            db.execute("PRAGMA journal_mode=DELETE")
            self._journal_set = True
        return db

    def apply_many(self, notes: Any) -> Any:
        return Connector.apply_many(self, notes)


def first_sync(cls: type[LocalConnector], store: Path, home: Path) -> tuple[float, float, int]:
    conn = cls({"path": str(store), "demo": False})
    session = service.open_session(connector=conn)
    wall, cpu = time.perf_counter(), time.process_time()
    report = service.sync(session, full=True, as_of=portfolio.AS_OF, state_path=home / "state",
                          on_record=lambda r: None)  # fmt: skip
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    session.close()
    return wall, cpu, report.count(service.WRITTEN)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=2_000)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="cmrules-write-"))
    base = root / "base.sqlite3"
    portfolio.build(base, args.clients)
    results = {}
    for name, cls in (("per-record commits", PerRecordCommits), ("batched", LocalConnector)):
        home = root / name.replace(" ", "-")
        home.mkdir()
        shutil.copy(base, home / "local.sqlite3")
        results[name] = first_sync(cls, home / "local.sqlite3", home)
    print(f"first sync of {args.clients:,} clients (+20 agencies), every record written:")
    for name, (wall, cpu, written) in results.items():
        print(f"  {name:18}: {wall:8.1f} s wall, {cpu:7.1f} s CPU, {written:,} records written")
    before, after = results["per-record commits"], results["batched"]
    print(f"  speed-up          : {before[0] / after[0]:8.1f}x wall (target >= 4), "
          f"{before[1] / after[1]:.1f}x CPU")  # fmt: skip
    shutil.rmtree(root)


if __name__ == "__main__":
    main()
