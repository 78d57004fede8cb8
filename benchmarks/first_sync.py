"""First local sync against an older cmrules, in one run: ``cmrules sync --full`` over a
generated local portfolio (every record evaluated and written back), by this checkout and by
a baseline installed in another environment (e.g. the code as it was when issue #11 was
filed), interleaved round by round on fresh copies of the same store.

    git worktree add /tmp/cmrules-base 831e89d          # the commit before the first #11 one
    python -m venv /tmp/cmrules-base/.venv
    /tmp/cmrules-base/.venv/bin/pip install -e /tmp/cmrules-base
    python benchmarks/first_sync.py --baseline-python /tmp/cmrules-base/.venv/bin/python
    python benchmarks/first_sync.py --baseline-python ... --fsync-ms 4   # a slow disk

``--fsync-ms MS`` preloads ``benchmarks/slowsync.c`` (compiled with ``cc``) into both sides:
it counts every ``fsync``/``fdatasync`` the process makes (SQLite's commits and cmrules' own)
and sleeps MS milliseconds after each, the latency of a disk where a flush is slow (this
machine's flushes take well under a millisecond); ``--fsync-ms 0`` only counts them.

Each side runs as a child process of its own interpreter; its CPU time (user + system) comes
from ``wait4``, its wall time from the clock, its peak RSS from its own ``VmHWM``.  Each side
gets a store built by its own code (the schema changed; the generated data is the same, see
``tests/local_portfolio.py``).  Without ``--baseline-python`` only this checkout is measured
(imported as this interpreter imports it, ``PYTHONPATH`` included).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
TESTS = HERE.parent / "tests"
sys.path.insert(0, str(HERE))

from e2e import WRAP  # noqa: E402  (the child that reports its own peak RSS)

AS_OF = "2026-11-20T12:00:00Z"  # tests/local_portfolio.py's AS_OF
BUILD = "import sys; sys.path.insert(0, sys.argv[1]); import local_portfolio as p; " \
        "from pathlib import Path; p.build(Path(sys.argv[2]), int(sys.argv[3]))"  # fmt: skip


def _env(baseline: bool, **extra: str) -> dict[str, str]:
    env = dict(os.environ, **extra)
    if baseline:
        env.pop("PYTHONPATH", None)  # it imports its own installed code
    return env


def build(python: str, store: Path, clients: int, baseline: bool) -> None:
    """The portfolio in the schema of the code that will read it."""
    store.parent.mkdir(parents=True, exist_ok=True)
    args = [python, "-c", BUILD, str(TESTS), str(store), str(clients)]
    # cwd: ``python -c`` puts the working directory first on sys.path; run from this
    # checkout, the baseline interpreter would import this checkout's cmrules.
    subprocess.run(args, env=_env(baseline), check=True, cwd=store.parent)


def slow_disk(root: Path, ms: float) -> dict[str, str]:
    """Environment preloading the fsync shim (see the docstring); ``{}`` when not asked."""
    lib = root / "slowsync.so"
    cmd = ["cc", "-shared", "-fPIC", "-O2", "-o", str(lib), str(HERE / "slowsync.c"), "-ldl"]
    try:
        subprocess.run(cmd, check=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        raise SystemExit(f"--fsync-ms needs a C compiler (cc): {exc}") from None
    return {"LD_PRELOAD": str(lib), "SLOWSYNC_MS": str(ms)}


def first_sync(python: str, store: Path, baseline: bool, disk: dict[str, str]) -> dict[str, float]:
    """Wall s, CPU s, peak RSS (MB), records written and, with a slow disk, the flushes
    (fsync + fdatasync calls) of one ``sync --full`` on a copy."""
    home = Path(tempfile.mkdtemp(prefix="cmrules-first-sync-"))
    try:
        shutil.copy(store, home / "local.sqlite3")
        hwm = home / "hwm"
        syncs = home / "syncs"
        env = _env(baseline, CMRULES_HOME=str(home), CMRULES_BENCH_HWM=str(hwm))
        if disk:
            env.update(disk, SLOWSYNC_COUNT=str(syncs))
        args = [python, "-c", WRAP, "sync", "--full", "--json", "--as-of", AS_OF]
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            wall = time.perf_counter()
            proc = subprocess.Popen(args, env=env, stdout=out, stderr=err, cwd=home)
            _, status, usage = os.wait4(proc.pid, 0)
            wall = time.perf_counter() - wall
            code = os.waitstatus_to_exitcode(status)
            out.seek(0)
            err.seek(0)
            if code not in (0, 1):
                raise SystemExit(f"{python} sync failed ({code}): {err.read().decode()[-2000:]}")
            summary = json.loads(out.read().decode())
        return {
            "wall": wall,
            "cpu": usage.ru_utime + usage.ru_stime,
            "rss": int(hwm.read_text() or 0) / 1024,
            "written": summary["notes_written"],
            "records": summary["records_evaluated"],
            "syncs": int(syncs.read_text()) if syncs.exists() else -1,
        }
    finally:
        shutil.rmtree(home)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--baseline-python", help="interpreter with the older cmrules installed")
    parser.add_argument("--fsync-ms", type=float, help="a slow disk: ms added to each flush")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="cmrules-first-sync-stores-"))
    disk = slow_disk(root, args.fsync_ms) if args.fsync_ms is not None else {}
    sides = {"current": sys.executable}
    if args.baseline_python:
        sides = {"baseline": args.baseline_python, **sides}
    stores = {}
    for name, python in sides.items():
        stores[name] = root / name / "local.sqlite3"
        build(python, stores[name], args.clients, name == "baseline")
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in sides}
    for n in range(args.rounds):
        order = list(sides) if n % 2 == 0 else list(sides)[::-1]  # a load change hits both
        for name in order:
            runs[name].append(first_sync(sides[name], stores[name], name == "baseline", disk))
            r = runs[name][-1]
            print(f"  round {n + 1} {name:8}: {r['wall']:7.1f} s wall {r['cpu']:7.1f} s CPU "
                  f"{r['rss']:6.0f} MB, {r['written']:,} of {r['records']:,} written"
                  + (f", {r['syncs']:,} flushes" if disk else ""),
                  flush=True)  # fmt: skip
    print(
        f"first sync of {args.clients:,} clients (+20 agencies), medians of {args.rounds}"
        + (f", each flush + {args.fsync_ms:g} ms:" if disk else ":")
    )
    med = {
        name: {k: statistics.median(r[k] for r in rs) for k in ("wall", "cpu", "rss")}
        for name, rs in runs.items()
    }
    for name, m in med.items():
        print(f"  {name:8}: {m['wall']:7.1f} s wall {m['cpu']:7.1f} s CPU "
              f"peak RSS {m['rss']:,.0f} MB")  # fmt: skip
    if "baseline" in med:
        b, c = med["baseline"], med["current"]
        print(f"  speed-up: {b['wall'] / c['wall']:.2f}x wall, {b['cpu'] / c['cpu']:.2f}x CPU "
              "(target >= 4)")  # fmt: skip
    shutil.rmtree(root)


if __name__ == "__main__":
    main()
