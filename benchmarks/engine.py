"""Engine benchmark: cmrules' engine on durable_rules' C module against durable_rules' Python
host, on the same compiled rules, in one run.

Three sides evaluate the same generated entities (20 company signals, ~10 % unknown):

* ``host, bare``: the compiled rulesets asserted straight into a ``durable.engine`` Host
  (no background threads), pre-typed facts, actions that only record their name,
  assert + delete_state — the fastest way to use durable_rules' Python host;
* ``cmrules, host``: ``Engine(backend="host")``: the cmrules layer (coercion, sessions,
  outcomes) over that host;
* ``cmrules, direct``: ``Engine()`` (the default): the cmrules layer over durable_rules' C
  engine module driven directly.

The sides are interleaved in chunks (chunk 1 of each side, then chunk 2 ...), so a load change
on the shared machine hits all of them alike; rates are CPU time (``time.process_time``).
Outcomes of the two cmrules sides are compared entity by entity.  Targets: direct >= 3x the
bare host; RSS growth over the direct run < 50 MB.

    python benchmarks/engine.py [--entities 30000] [--chunk 1000]
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable

from durable import engine as dr

from cmrules import rulebook
from cmrules.engine import Engine
from cmrules.signals import REGISTRY


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def random_signals(rng: random.Random) -> dict[str, object]:
    out: dict[str, object] = {}
    for spec in REGISTRY.values():
        if spec.subject != "company" or rng.random() < 0.1:  # 10 % unknown
            continue
        if spec.type == "bool":
            out[spec.name] = rng.random() < 0.5
        elif spec.type == "int":
            out[spec.name] = rng.randint(0, 400)
        else:
            out[spec.name] = round(rng.uniform(0, 600), 2)
    return out


def bare_host(engine: Engine) -> Callable[[dict[str, object], int], int]:
    """The same rulesets in a durable_rules Host with no cmrules layer; returns a function
    asserting one pre-typed fact and returning how many rules fired."""
    hits: list[str] = []
    definitions = engine.definitions()
    actions = {}
    for rules in definitions.values():
        for name, rule in rules.items():

            def make(tag: str):  # type: ignore[no-untyped-def]
                def act(c):  # type: ignore[no-untyped-def]
                    hits.append(tag)

                return act

            actions[rule["run"]] = make(name)

    class RawHost(dr.Host):  # type: ignore[misc]
        def _run(self):  # type: ignore[no-untyped-def]
            return None

        def get_action(self, name):  # type: ignore[no-untyped-def]
            return actions[name]

    host = RawHost()
    host.register_rulesets(definitions)
    names = [n for n in definitions if n.startswith("cmrules_company")]

    def run(fact: dict[str, object], sid: int) -> int:
        hits.clear()
        for name in names:
            host.assert_fact(name, dict(fact, sid=str(sid)))
            host.delete_state(name, str(sid))
        return len(hits)

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entities", type=int, default=30_000)
    parser.add_argument("--chunk", type=int, default=1_000)
    args = parser.parse_args()
    rng = random.Random(42)
    book = rulebook.load()
    direct, host = Engine(book), Engine(book, backend="host")
    raw = bare_host(direct)
    entities = [random_signals(rng) for _ in range(args.entities)]
    facts = [direct.fact("company", v) for v in entities]  # pre-typed for the bare host
    for e in (direct, host):
        e.evaluate("company", entities[0])  # warm up
    raw(facts[0], 0)

    cpu = {"host, bare": 0.0, "cmrules, host": 0.0, "cmrules, direct": 0.0}
    fired = dict.fromkeys(cpu, 0)
    mismatches = 0
    rss_growth = 0.0
    for start in range(0, args.entities, args.chunk):
        chunk = range(start, min(start + args.chunk, args.entities))
        t = time.process_time()
        for i in chunk:
            fired["host, bare"] += raw(facts[i], i + 1)
        cpu["host, bare"] += time.process_time() - t

        t = time.process_time()
        host_out = [host.evaluate("company", entities[i]) for i in chunk]
        cpu["cmrules, host"] += time.process_time() - t

        rss0 = rss_mb()
        t = time.process_time()
        direct_out = [direct.evaluate("company", entities[i]) for i in chunk]
        cpu["cmrules, direct"] += time.process_time() - t
        rss_growth += rss_mb() - rss0

        fired["cmrules, host"] += sum(map(len, host_out))
        fired["cmrules, direct"] += sum(map(len, direct_out))
        mismatches += sum(a != b for a, b in zip(host_out, direct_out, strict=True))

    n_rules = len(book.for_subject("company"))
    compiled = sum(len(d) for n, d in direct.definitions().items() if "company" in n)
    print(f"rules   : {n_rules} company rules -> {compiled} durable rules (incl. the sentinel)")
    print(f"entities: {args.entities:,}, interleaved in chunks of {args.chunk:,}; CPU-time rates")
    rates = {side: args.entities / max(cpu[side], 1e-9) for side in cpu}
    for side, rate in rates.items():
        print(f"{side:16}: {rate:10,.0f} entities/s   ({fired[side]:,} rules fired / outcomes)")
    base = rates["host, bare"]
    print(f"direct / bare host   : {rates['cmrules, direct'] / base:6.2f}x  (target >= 3)")
    print(f"direct / cmrules host: {rates['cmrules, direct'] / rates['cmrules, host']:6.2f}x")
    print(f"outcome mismatches   : {mismatches} of {args.entities:,} entities (must be 0)")
    print(f"RSS growth (direct)  : {rss_growth:6.1f} MB over {args.entities:,} entities (< 50)")


if __name__ == "__main__":
    main()
