"""``cmrules replay``: re-evaluate a logged decision from its logged inputs.

The signal values (with their source records) come from the log line, the rules from the
rule set stored beside the log under the line's hash — not from the rule files on disk, which
may have changed since.  The replayed outcomes and fingerprints must equal the logged ones;
``--current-rules`` also evaluates the same inputs with today's rules, to show what they
would say instead.  Fingerprints are recomputed, so a tampered line shows as a difference.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import findings as findings_mod
from .decisions import Settings, find, load_ruleset, outcomes_of
from .profiles import DEFAULT, RuleSets
from .signals import Reason, Ref, SignalValue

_KEYS = ("rule_id", "vendor_id", "status", "severity", "fingerprint")


def _signal(logged: dict[str, Any]) -> SignalValue:
    reason = logged.get("reason")
    return SignalValue(
        logged["value"],
        tuple(Ref(k, i, lbl) for k, i, lbl in logged["records"]),
        Reason(**{**reason, "what": tuple(reason.get("what", ()))}) if reason else None,
        logged.get("window_days"),
    )


def evaluate_inputs(rulebook: Any, entry: dict[str, Any], engine: Any = None) -> list[Any]:
    """Findings of ``rulebook`` on the inputs logged in ``entry``."""
    if engine is None:
        from .engine import Engine  # the only durable_rules import

        engine = Engine(rulebook)
    record = entry["record"]
    out = []
    for item in entry["inputs"]:
        values = {name: _signal(v) for name, v in item["signals"].items()}
        vendor_id = item["vendor"]["id"] if item["subject"] == "company" else None
        subject = findings_mod.Subject(record["id"], record["name"], item["subject"], vendor_id)
        for o in engine.evaluate(item["subject"], {k: v.value for k, v in values.items()}):
            rule = rulebook.get(o.rule_id)
            out.append(findings_mod.build(rule, o, subject, values))
    return out


@dataclass
class Replay:
    """A logged decision evaluated again: with the rules of that day, and optionally with
    today's."""

    entry: dict[str, Any]
    replayed: list[dict[str, Any]]
    current: list[dict[str, Any]] | None = None
    current_profile: str | None = None

    @property
    def logged(self) -> list[dict[str, Any]]:
        """The outcomes as logged, reduced to what replay compares."""
        return [{k: o.get(k) for k in _KEYS} for o in self.entry["outcomes"]]

    @property
    def identical(self) -> bool:
        """Whether the logged rules give the same outcomes again (the decision is reproducible)."""
        return self.logged == self.replayed

    def to_dict(self) -> dict[str, Any]:
        """The replay as JSON: the decision, the logged and replayed outcomes, today's when
        asked."""
        e = self.entry
        return {
            "decision_id": e["decision_id"],
            "as_of": e["as_of"],
            "record": e["record"],
            "profile": e["profile"],
            "rule_set": e["rule_set"],
            "identical": self.identical,
            "logged": self.logged,
            "replayed": self.replayed,
            "current_rules": None
            if self.current is None
            else {"profile": self.current_profile, "outcomes": self.current},
        }


def replay(
    settings: Settings,
    *,
    decision_id: str | None = None,
    record: str | None = None,
    current: RuleSets | None = None,
) -> Replay:
    """Find a decision (by id, or a record's latest) and evaluate its logged inputs again with
    its logged rule set, and with ``current`` rules when given."""
    entry = find(settings, decision_id, record)
    rulebook = load_ruleset(settings.log_path().parent, entry["rule_set"])
    result = Replay(entry, outcomes_of(evaluate_inputs(rulebook, entry)))
    if current is not None:
        profile = entry["profile"] if current.profile(entry["profile"]) else DEFAULT
        found = evaluate_inputs(current.rulebook(profile), entry, current.engine(profile))
        result.current, result.current_profile = outcomes_of(found), profile
    return result


def to_text(r: Replay) -> str:
    """The replay as text: the decision's heading, then one line per rule comparing logged,
    replayed and current outcomes."""
    e = r.entry
    out = [
        f"decision {e['decision_id']} — {e['record']['name']} ({e['record']['kind']} "
        f"{e['record']['id']}), as of {e['as_of']}, logged {e['logged_at']} by {e['command']}",
        f"profile {e['profile']}, rule set {e['rule_set'][:12]}, wrote: {e['write'] or '-'}",
        "",
    ]
    cols = ["rule", "vendor", "logged", "replayed"] + (["current rules"] if r.current is not None
                                                      else [])  # fmt: skip
    rows = []
    logged = {(o["rule_id"], o["vendor_id"]): o for o in r.logged}
    replayed = {(o["rule_id"], o["vendor_id"]): o for o in r.replayed}
    now = {(o["rule_id"], o["vendor_id"]): o for o in r.current or []}
    keys = sorted(set(logged) | set(replayed) | set(now), key=lambda k: (k[0], k[1] or ""))

    def show(o: dict[str, Any] | None) -> str:
        return "-" if o is None else f"{o['status']}/{o['severity']}"

    for k in keys:
        row = [k[0], k[1] or "-", show(logged.get(k)), show(replayed.get(k))]
        if r.current is not None:
            row.append(show(now.get(k)))
        rows.append(row)
    widths = [max([len(c)] + [len(row[i]) for row in rows]) for i, c in enumerate(cols)]
    for row in [cols, ["-" * w for w in widths], *rows]:
        out.append("  ".join(x.ljust(widths[i]) for i, x in enumerate(row)).rstrip())
    out.append("")
    out.append("replay: identical outcomes and fingerprints" if r.identical
               else "replay: DIFFERENT from the log (see the columns above)")  # fmt: skip
    if r.current is not None:
        changed = sum(1 for k in keys if show(logged.get(k)) != show(now.get(k)))
        out.append(f"today's rules (profile {r.current_profile}): "
                   + (f"{changed} outcome(s) differ" if changed else "same outcomes"))  # fmt: skip
    return "\n".join(out) + "\n"
