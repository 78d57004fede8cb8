"""Import benchmark: ``cmrules local import FILE`` on generated portfolios, this checkout
against a previous one, in one run.

The portfolio (one large agency, 19 smaller ones, N clients each with three contacts, an
engagement or two and ten activities, values spelt as CRMs export them: ``"true"``, ``"non"``,
``"1 200.5"``, French names with ``’``) is written as JSON of about 5 and 50 MB, and as YAML
of about 5 MB.  Each import runs in a child process on a fresh store (``demo: false``): its
CPU time (user + system, from ``wait4``; the whole command, start-up included) gives MB per
CPU-second, and the child reports its own peak RSS (VmHWM).  The previous implementation runs
from a detached git worktree of ``--baseline`` (default: the commit before the fast import,
#11) in the same run, interleaved with this one; it is skipped for the 50 MB file unless
``--baseline-50`` (it took 10 minutes and 3 GB there).

    python benchmarks/import.py                    # 5 MB JSON, 50 MB JSON, 5 MB YAML
    python benchmarks/import.py --sizes 5 --no-baseline
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml
from e2e import WRAP  # the child reports its own peak RSS (VmHWM) at exit

ROOT = Path(__file__).resolve().parent.parent
BASELINE = "6013411"  # main before the fast import (#11)
AS_OF = datetime(2026, 11, 20, 12, tzinfo=UTC)
KINDS = ["meeting", "meeting", "email", "email", "proposal", "proposal", "ticket", "ticket",
         "report", "offer_change"]  # fmt: skip
CLIENTS_PER_MB = {".json": 300, ".yaml": 410}  # ~3.3 KB of indented JSON, ~2.4 KB of YAML


def _iso(d: datetime) -> str:
    return d.strftime("%Y-%m-%dT%H:%M:%SZ")


def _client(i: int, rng: random.Random) -> Iterator[tuple[str, dict[str, object]]]:
    cid = f"c{i:07d}"
    attrs = {"industry": rng.choice(["retail", "banking", "santé", "édition"])}
    if rng.random() < 0.7:
        attrs["regulated"] = rng.choice(["true", "false", "oui"])
    name = f"L’Atelier {i}" if i % 50 == 0 else f"Client {i} & Fils"  # ’: 2 bytes a char
    yield "organisations", {"id": cid, "name": name, "kind": "company",
                            "domain": f"{cid}.example", "attributes": attrs}  # fmt: skip
    for k, role in enumerate(["project_owner", "executive_sponsor", "contributor"]):
        contact: dict[str, object] = {"id": f"{cid}-p{k}", "name": f"Person {k} of {i}",
                                      "org": cid, "roles": [role],
                                      "email": f"p{k}@{cid}.example"}  # fmt: skip
        if role == "project_owner" and rng.random() < 0.7:
            contact["attributes"] = {"social_media_familiar": rng.choice(["true", "non"])}
        yield "contacts", contact
    vendors = ["v-big"] + ([f"v-small{i % 19}"] if rng.random() < 0.2 else [])
    for vid in vendors:
        started = AS_OF - timedelta(days=rng.randint(20, 1500))
        flags = {k: rng.choice(["true", "false"]) for k in ("kpis_defined", "escalation_plan")
                 if rng.random() < 0.8}  # fmt: skip
        yield "engagements", {"company": cid, "vendor": vid, "started": _iso(started),
                              "attributes": flags}  # fmt: skip
    for a, kind in enumerate(KINDS):
        ts = AS_OF - timedelta(days=rng.randint(1, 400), minutes=rng.randint(0, 1440))
        row: dict[str, object] = {
            "id": f"{cid}-a{a}", "kind": kind, "date": _iso(ts), "company": cid,
            "vendor": vendors[a % len(vendors)],
            "side": "company" if kind == "ticket" else "vendor",
            "contacts": [f"{cid}-p{rng.randint(0, 2)}"], "title": f"{kind} {a}"}  # fmt: skip
        if kind == "proposal":
            row["status"] = rng.choice(["accepted", "rejected", "proposed"])
            if row["status"] != "proposed":
                row["decided"] = _iso(ts + timedelta(days=3))
        elif kind == "ticket":
            row["first_reply_minutes"] = f"{rng.uniform(5, 3000):,.1f}".replace(",", " ")
            row["replies"] = rng.randint(0, 6)
        yield "activities", row


def portfolio(clients: int, seed: int = 11) -> dict[str, list[dict[str, object]]]:
    rng = random.Random(seed)
    data: dict[str, list[dict[str, object]]] = {
        "organisations": [{"id": "v-big", "name": "Agence Grande Échelle", "kind": "vendor"}]
        + [{"id": f"v-small{k}", "name": f"Petite agence {k}", "kind": "vendor"}
           for k in range(19)],
        "contacts": [], "activities": [], "engagements": []}  # fmt: skip
    for i in range(clients):
        for section, row in _client(i, rng):
            data[section].append(row)
    return data


def write(path: Path, mb: int) -> Path:
    if not path.exists():
        data = portfolio(mb * CLIENTS_PER_MB[path.suffix])
        with path.open("w", encoding="utf-8") as out:
            if path.suffix == ".json":
                json.dump(data, out, ensure_ascii=False, indent=1)
            else:
                yaml.dump(data, out, Dumper=yaml.CSafeDumper, allow_unicode=True, sort_keys=False)
    return path


def run(checkout: Path, data: Path, work: Path) -> tuple[float, float]:
    """CPU seconds and peak RSS (MB) of ``cmrules local import`` from ``checkout``."""
    store = work / "store.sqlite3"
    for extra in ("", "-wal", "-shm"):
        Path(f"{store}{extra}").unlink(missing_ok=True)
    cfg = work / "cmrules.yaml"
    cfg.write_text(f"source: local\nlocal: {{path: {store}, demo: false}}\n")
    with tempfile.TemporaryFile() as err, tempfile.NamedTemporaryFile("r") as hwm:
        env = dict(os.environ, CMRULES_BENCH_HWM=hwm.name, CMRULES_HOME=str(work),
                   PYTHONPATH=str(checkout))  # fmt: skip
        args = [sys.executable, "-c", WRAP, "--config", str(cfg), "local", "import", str(data)]
        proc = subprocess.Popen(args, env=env, cwd=work, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            err.seek(0)
            raise SystemExit(f"import of {data} from {checkout} failed: {err.read().decode()}")
        peak_kb = int(hwm.read() or 0)
    return usage.ru_utime + usage.ru_stime, peak_kb / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="5,50", help="JSON sizes in MB (default 5,50)")
    parser.add_argument("--yaml", type=int, default=5, help="YAML size in MB (0: none)")
    parser.add_argument("--baseline", default=BASELINE, help="git revision to compare with")
    parser.add_argument("--no-baseline", action="store_true", help="this checkout only")
    parser.add_argument("--baseline-50", action="store_true", help="baseline on 50 MB too")
    parser.add_argument("--keep", metavar="DIR", help="generate/keep the files in DIR")
    args = parser.parse_args()
    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="cmrules-import-"))
    root.mkdir(parents=True, exist_ok=True)
    files = [
        write(root / f"p{mb}.json", mb) for mb in (int(s) for s in args.sizes.split(",") if s) if mb
    ]
    if args.yaml:
        files.append(write(root / f"p{args.yaml}.yaml", args.yaml))
    base = root / "baseline"
    if not args.no_baseline and not base.exists():
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "-q", str(base),
                        args.baseline], check=True)  # fmt: skip
    json_cpu: list[tuple[float, float]] = []
    try:
        print(f"{'file':>10} {'MB':>6} {'MB/cpu-s':>9} {'peak RSS':>9} {'RSS/size':>8}"
              f"  {'baseline MB/cpu-s':>17} {'RSS':>8} {'speed-up':>8}")  # fmt: skip
        for data in files:
            mb = data.stat().st_size / 1e6
            with_base = not args.no_baseline and (mb < 20 or args.baseline_50)
            old = run(base, data, root) if with_base else None  # interleaved: old, new
            cpu, rss = run(ROOT, data, root)
            if data.suffix == ".json":
                json_cpu.append((mb, cpu))
            line = f"{data.name:>10} {mb:>6.1f} {mb / cpu:>9.2f} {rss:>6.0f} MB {rss / mb:>7.2f}x"
            if old:
                line += f"  {mb / old[0]:>17.2f} {old[1]:>5.0f} MB {old[0] / cpu:>7.1f}x"
            print(line, flush=True)
    finally:
        if base.exists() and not args.keep:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(base)],
                           check=False)  # fmt: skip
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    if len(json_cpu) >= 2:  # without the fixed costs (start-up, schema): MB per extra CPU-second
        (mb0, cpu0), (mb1, cpu1) = json_cpu[0], json_cpu[-1]
        print(f"JSON marginal rate {json_cpu[0][0]:.0f} -> {mb1:.0f} MB: "
              f"{(mb1 - mb0) / (cpu1 - cpu0):.2f} MB/cpu-s")  # fmt: skip
    print("MB/cpu-s: file size over the import command's CPU time (start-up included);")
    print("peak RSS: VmHWM of the import process (target: < 3x the file size for JSON).")


if __name__ == "__main__":
    main()
