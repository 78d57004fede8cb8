"""End-to-end benchmark: the real ``cmrules`` CLI on generated local portfolios, against the
engine alone, in one run.

For each portfolio size (clients of one agency, see ``tests/local_portfolio.py``):

* **CLI**: ``cmrules evaluate --vendor <agency> --format json --no-write`` in a child process
  (output to /dev/null): its CPU time (user + system, from ``wait4``) and its peak RSS;
* **engine only** (the target's baseline): ``Engine.evaluate`` on the signal values of the
  same clients (computed beforehand);
* **library in memory**: the model already read, signals -> engine -> findings (each
  finding's text in the run's language), the evaluation the README's earlier "end-to-end"
  figure covered;

both in-process sides measured half before and half after the CLI run so that a load change
on the shared machine hits all sides, and prints the rates in companies per CPU-second, the
CLI's ratio to each (the target, >= 0.50, is against the engine alone) and the peak
RSS (target < 400 MB).  ``--sync`` also runs ``cmrules sync --full --dry-run`` over the
portfolio.  Start-up: CPU time of ``cmrules --version`` and ``--help`` (target < 150 ms).

    python benchmarks/e2e.py                 # 1,000 and 20,000 clients
    python benchmarks/e2e.py --with-200k     # and 200,000 (builds a ~500 MB store; minutes)
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import local_portfolio as portfolio  # noqa: E402

# The child reports its own peak RSS (VmHWM) at exit: ru_maxrss from wait4 would include the
# parent's size at fork time, which Linux carries across exec.
WRAP = """
import atexit, os
def hwm():
    with open("/proc/self/status") as fh:
        kb = next(int(l.split()[1]) for l in fh if l.startswith("VmHWM:"))
    with open(os.environ["CMRULES_BENCH_HWM"], "w") as out:
        out.write(str(kb))
atexit.register(hwm)
from cmrules.cli import main
main()
"""
CLI = [sys.executable, "-c", WRAP]


def child(args: list[str], env: dict[str, str], out: Any = None) -> tuple[float, float]:
    """CPU seconds and peak RSS (MB) of one CLI run; output discarded (or written to the file
    ``out``), errors shown."""
    with tempfile.TemporaryFile() as err, tempfile.NamedTemporaryFile("r") as hwm:
        env = dict(env, CMRULES_BENCH_HWM=hwm.name)
        stdout = out if out is not None else subprocess.DEVNULL
        proc = subprocess.Popen(CLI + args, env=env, stdout=stdout, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode not in (0, 1):
            err.seek(0)
            raise SystemExit(f"cmrules {' '.join(args)} failed: {err.read().decode()[-2000:]}")
        peak_kb = int(hwm.read() or 0)
    return usage.ru_utime + usage.ru_stime, peak_kb / 1024


class Baselines:
    """The first ``sample`` clients of a store, loaded once, and the two in-process sides:
    the engine alone on their precomputed signal values, and the library's evaluation."""

    def __init__(self, store: Path, sample: int) -> None:
        from cmrules import rulebook
        from cmrules.connectors.local.connector import LocalConnector
        from cmrules.engine import Engine
        from cmrules.signals import CompanyContext, compute

        conn = LocalConnector({"path": str(store), "demo": False})
        ds = conn.load([portfolio.BIG])
        clients = [e.company_id for e in ds.engagements_of_vendor(portfolio.BIG)][:sample]
        others = {v for vs in conn.vendors_of(clients).values() for v in vs} - {portfolio.BIG}
        ds.extend(conn.load(sorted(others), clients))
        conn.close()
        self.contexts = [
            [
                CompanyContext(ds, ds.organisations[cid], ds.organisations[e.vendor_id],
                               portfolio.AS_OF)
                for e in ds.engagements_of_company(cid)
            ]
            for cid in clients
        ]  # fmt: skip
        self.values = [
            [{k: v.value for k, v in compute(ctx).items()} for ctx in per_client]
            for per_client in self.contexts
        ]
        book = rulebook.load()
        self.rules = {r.id: r for r in book.for_subject("company")}
        self.engine = Engine(book)

    def engine_cpu(self, n: int) -> float:
        """CPU seconds for ``Engine.evaluate`` on ``n`` clients' precomputed signal values
        (cycling over the sample)."""
        t = time.process_time()
        for i in range(n):
            for v in self.values[i % len(self.values)]:
                self.engine.evaluate("company", v)
        return time.process_time() - t

    def library_cpu(self, n: int) -> float:
        """CPU seconds for the in-memory library evaluation of ``n`` clients, model already
        read: signals -> engine -> findings, each finding's message, advice and what would
        clear it written in the run's language (as the CLI's output reads them)."""
        from cmrules.findings import Subject, build
        from cmrules.signals import compute

        t = time.process_time()
        for i in range(n):
            for ctx in self.contexts[i % len(self.contexts)]:
                values = compute(ctx)
                c, v = ctx.company, ctx.vendor
                subject = Subject(c.id, c.name, "company", v.id, v.name)
                raw = {k: sv.value for k, sv in values.items()}
                for o in self.engine.evaluate("company", raw):
                    f = build(self.rules[o.rule_id], o, subject, values, portfolio.AS_OF)
                    _ = f.message["fr"], f.advice["fr"], f.clear_when and f.clear_when.text["fr"]
        return time.process_time() - t


def json_floor(out: Any) -> float:
    """CPU seconds a record for the standard library to encode the records the CLI printed
    (``json.dumps`` as the CLI calls it, each record of ``out`` read back first): a cost the
    CLI pays per client whatever else it does."""
    import json

    out.seek(0)
    records = [json.loads(line.strip().rstrip(b",")) for line in out if line.startswith(b"    {")]
    t = time.process_time()
    for r in records:
        json.dumps(r, ensure_ascii=False)
    return (time.process_time() - t) / max(1, len(records))


def startup(env: dict[str, str], runs: int = 5) -> dict[str, float]:
    return {
        flag: min(child([flag], env)[0] for _ in range(runs)) * 1000
        for flag in ("--version", "--help")
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,20000", help="comma-separated client counts")
    parser.add_argument("--with-200k", action="store_true", help="add a 200,000-client run")
    parser.add_argument("--sync", action="store_true", help="also time sync --full --dry-run")
    parser.add_argument("--sample", type=int, default=2_000, help="clients for the engine side")
    parser.add_argument("--keep", metavar="DIR", help="build/keep the stores in DIR")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s] + ([200_000] if args.with_200k else [])
    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="cmrules-e2e-"))
    env = dict(os.environ)

    ms = startup(dict(env, CMRULES_HOME=str(root / "startup")))
    print(f"start-up CPU: --version {ms['--version']:.0f} ms, --help {ms['--help']:.0f} ms "
          "(best of 5; target < 150)")  # fmt: skip
    print(f"{'clients':>8} {'CLI c/s':>9} {'engine c/s':>11} {'ratio':>6} {'lib c/s':>8}"
          f" {'ratio':>6} {'peak RSS':>9}"
          f"{'  sync c/s  sync RSS' if args.sync else ''}")  # fmt: skip
    floors: list[tuple[int, float | None]] = []
    engine_us: dict[int, float] = {}
    for n in sizes:
        home = root / f"p{n}"
        store = home / "local.sqlite3"
        if not store.exists() or portfolio.count(store) != n:
            home.mkdir(parents=True, exist_ok=True)
            portfolio.build(store, n)
        run_env = dict(env, CMRULES_HOME=str(home))
        base = Baselines(store, min(n, args.sample))
        before = base.engine_cpu(n // 2), base.library_cpu(n // 2)
        with tempfile.TemporaryFile() as out:
            cpu, rss = child(
                ["evaluate", "--vendor", portfolio.BIG, "--format", "json", "--no-write",
                 "--as-of", "2026-11-20T12:00:00Z"], run_env, out,
            )  # fmt: skip
            floors.append((n, json_floor(out) if n <= 20_000 else None))
        after = base.engine_cpu(n - n // 2), base.library_cpu(n - n // 2)
        cli_rate = n / cpu
        engine_rate, library_rate = n / (before[0] + after[0]), n / (before[1] + after[1])
        engine_us[n] = 1e6 / engine_rate
        line = (f"{n:>8,} {cli_rate:>9,.0f} {engine_rate:>11,.0f} {cli_rate / engine_rate:>6.2f}"
                f" {library_rate:>8,.0f} {cli_rate / library_rate:>6.2f}"
                f" {rss:>6,.0f} MB")  # fmt: skip
        if args.sync:
            scpu, srss = child(["sync", "--full", "--dry-run", "--json"], run_env)
            line += f" {n / scpu:>9,.0f} {srss:>6,.0f} MB"
        print(line, flush=True)
    print("CPU-time rates in clients per second; first ratio = CLI / engine only (the issue's")
    print("target >= 0.50); second = CLI / library in memory (signals -> engine -> findings,")
    print("model already read: what the README's earlier end-to-end figure covered);")
    print("peak RSS of the CLI process (target < 400 MB).")
    for n, floor in floors:
        if floor is not None:
            us, eng = floor * 1e6, engine_us[n]
            print(f"{n:>8,} clients: json.dumps of the CLI's records alone {us:,.0f} us a client,"
                  f" the engine {eng:,.0f} us: CLI / engine <= {eng / (eng + us):.2f} even if"
                  " nothing else cost anything")  # fmt: skip


if __name__ == "__main__":
    main()
