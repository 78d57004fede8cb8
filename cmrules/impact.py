"""``cmrules rules impact``: what a proposed rule change would do to the portfolio.

The same records are evaluated twice — with the current rules and with the proposed ones —
and nothing is written.  A finding is keyed by record, vendor (for a company, the engagement)
and rule; a record **gains** a finding the proposal adds, **loses** one it removes, and a
finding **changes** when its outcome (fired / cannot assess) or severity differs.

The proposed rule set is the current one with, on top: the rule files of ``--rules DIR``
(a rule with the id of a current one replaces it, a new id is added), the parameters of
``--params FILE`` (``{RULE: {param: value}}``, over ``rules.params``) and ``--disable``.
Profiles apply to both sides alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from . import rulebook as rulebook_mod
from .errors import ConfigError, UsageError
from .profiles import RuleSets
from .selection import select, select_all
from .yamlutil import error_line, line_of, load_with_lines

KINDS = ("gained", "lost", "changed")


def load_params(path: str | Path) -> tuple[dict[str, dict[str, Any]], dict[tuple[Any, ...], int]]:
    """A ``--params`` file: ``{RULE: {param: value}}`` (YAML or JSON)."""
    path = Path(path)
    try:
        data, lines = load_with_lines(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(
            f"{path}: cannot read the parameters file ({exc.__class__.__name__})"
        ) from None
    except yaml.YAMLError as exc:
        raise UsageError(
            f"{path}:{error_line(exc)}: invalid YAML: {getattr(exc, 'problem', exc)}"
        ) from None
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise UsageError(
            f"{path}:1: a parameters file maps rule ids to {{parameter: value}}, e.g. "
            "CMR010: {max_days_between_meetings: 30}"
        )
    return {str(k): dict(v) for k, v in data.items()}, lines


def proposed_rulesets(
    current: RuleSets,
    *,
    rules_dirs: Sequence[str | Path] = (),
    params_file: str | Path | None = None,
    disable: Sequence[str] = (),
) -> RuleSets:
    """The current rule set with the proposed rule files, parameters and disabled rules."""
    by_id = {r.id: r for r in current.rules}
    if rules_dirs:
        for rule in rulebook_mod.load(list(rules_dirs)).rules:
            by_id[rule.id] = rule
    params = {rid: dict(v) for rid, v in current.params.items()}
    name = current.config_name
    if params_file is not None:
        extra, lines = load_params(params_file)
        for rid, values in extra.items():
            where = f"{params_file}:{line_of(lines, (rid,))}"
            if rid not in by_id:
                raise UsageError(
                    f"{where}: unknown rule {rid!r}; known: {', '.join(sorted(by_id))}"
                )
            try:
                rulebook_mod.configure([by_id[rid]], params={rid: values}, config_name=where)
            except ConfigError as exc:
                raise UsageError(str(exc).replace(": rules.params.", ": ")) from None
            params.setdefault(rid, {}).update(values)
        name = str(params_file)
    for rid in disable:
        if rid not in by_id:
            raise UsageError(f"--disable {rid}: no such rule; known: {', '.join(sorted(by_id))}")
    return RuleSets(
        sorted(by_id.values(), key=lambda r: r.id),
        params=params,
        disabled=[*current.disabled, *disable],
        profiles=current.profiles,
        config_name=name,
    )


@dataclass(frozen=True)
class Change:
    """One rule's result on one record that a rule change would gain, lose or change."""

    record_id: str
    record_name: str
    kind: str  # company | vendor
    vendor_id: str | None
    rule_id: str
    change: str  # gained | lost | changed
    before: str | None  # "fired/high", "cannot_assess/info" or None
    after: str | None


@dataclass
class ImpactReport:
    """What a rule or parameter change would do on today's data, before anything is written."""

    as_of: datetime
    records_evaluated: int
    changes: list[Change] = field(default_factory=list)

    def records(self) -> list[str]:
        """The ids of the records that would change, each once, in order."""
        return list(dict.fromkeys(c.record_id for c in self.changes))

    def per_rule(self) -> dict[str, dict[str, int]]:
        """Gained, lost and changed counts per rule."""
        out: dict[str, dict[str, int]] = {}
        for c in self.changes:
            out.setdefault(c.rule_id, dict.fromkeys(KINDS, 0))[c.change] += 1
        return dict(sorted(out.items()))

    def totals(self) -> dict[str, int]:
        """Records evaluated and changed, and the gained/lost/changed totals."""
        t = {k: sum(1 for c in self.changes if c.change == k) for k in KINDS}
        return {"records_evaluated": self.records_evaluated,
                "records_changed": len(self.records()), **t}  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        """The impact as JSON (``rules impact --format json``)."""
        return {
            "as_of": self.as_of.isoformat().replace("+00:00", "Z"),
            "changes": [c.__dict__ for c in self.changes],
            "per_rule": self.per_rule(),
            "totals": self.totals(),
        }


def _keyed(results: Sequence[Any]) -> dict[tuple[str, str | None, str], tuple[str, Any]]:
    out = {}
    for r in results:
        for f in r.findings:
            out[(r.subject.id, f.subject.vendor_id, f.rule_id)] = (f"{f.status}/{f.severity}", r)
    return out


def impact(
    session: Any,
    proposed: RuleSets,
    *,
    vendor: str | None = None,
    all_vendors: bool = False,
    as_of: datetime,
) -> ImpactReport:
    """Evaluate the selection with the current and the proposed rules; write nothing."""
    from .service import evaluate_dataset

    if bool(vendor) == all_vendors:
        raise UsageError("say which portfolio: --vendor NAME|ID, or --all")
    sel = select_all(session) if all_vendors else select(session, vendor=vendor)
    language = session.config.language

    def run(s: Any) -> list[Any]:
        return evaluate_dataset(
            s,
            sel.dataset,
            vendor_ids=sel.vendor_ids,
            company_ids=sel.company_ids,
            as_of=as_of,
            language=language,
        )

    before, after = run(session), run(replace(session, rulesets=proposed))
    old, new = _keyed(before), _keyed(after)
    changes = []
    for key in sorted(set(old) | set(new), key=lambda k: (k[0], k[1] or "", k[2])):
        was, now = old.get(key), new.get(key)
        if was and now and was[0] == now[0]:
            continue
        record = (now or was)[1]  # type: ignore[index]
        kind = "gained" if was is None else "lost" if now is None else "changed"
        changes.append(Change(record.subject.id, record.subject.name, record.kind, key[1], key[2],
                              kind, was[0] if was else None, now[0] if now else None))  # fmt: skip
    return ImpactReport(as_of, len(before), changes)


def to_table(report: ImpactReport, markdown: bool = False) -> str:
    """The changes as an aligned table, or as a Markdown table."""
    rows = [(c.record_name, c.record_id, c.vendor_id or "-", c.rule_id, c.change,
             c.before or "-", c.after or "-") for c in report.changes]  # fmt: skip
    head = ("record", "id", "vendor", "rule", "change", "before", "after")
    out: list[str] = []
    if markdown:
        out += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        out += ["| " + " | ".join(x.replace("|", "\\|") for x in row) + " |" for row in rows]
    else:
        widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(head)]
        for row in [head, tuple("-" * w for w in widths), *rows]:
            out.append("  ".join(x.ljust(widths[i]) for i, x in enumerate(row)).rstrip())
    per_rule = report.per_rule()
    if per_rule:
        out.append("")
        out.append("per rule: " + "; ".join(
            f"{rid} +{n['gained']} -{n['lost']} ~{n['changed']}" for rid, n in per_rule.items()
        ))  # fmt: skip
    t = report.totals()
    out.append(
        f"{t['records_changed']} of {t['records_evaluated']} records change: "
        f"{t['gained']} findings gained, {t['lost']} lost, {t['changed']} changed "
        "(nothing written)"
    )
    return "\n".join(out) + "\n"
