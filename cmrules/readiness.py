"""Readiness before signing: the article's "Dans ma structure" questions on a prospect.

A prospect is a company with no active engagement (local store: no engagement, or only
engagements with a ``prospect`` status; HubSpot: an open deal in the configured pipelines and
stages).  The rules that declare ``subjects: [.., prospect]`` are evaluated on it with their
prospect thresholds (``params_by_subject``), and the outcome reads as a sales verdict:

* **not ready yet** — a high-severity blocker (two people would give the agency directions,
  no one from leadership in any meeting), or most criteria still unknown: too little is known
  to sign;
* **ready with conditions** — only medium/low blockers, or some questions still open;
* **ready** — nothing blocks and nothing is left to ask.

A waived finding (acknowledged, with a reason and an expiry) blocks nothing.

Blockers come first, worst first, each with what would clear it (the rule's ``clear_when``).
Every criterion that cannot be assessed yet becomes a question for the next meeting, in the
article's words as asked to a prospect (the rule's ``ask``) and in the prospect's language.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .findings import Finding, sort_findings
from .model import CANNOT_ASSESS, FIRED

READY = "ready"
CONDITIONS = "ready_with_conditions"
NOT_READY = "not_ready"
LEVELS = (READY, CONDITIONS, NOT_READY)

#: The verdicts in words (notes, terminal output).
WORDS: dict[str, dict[str, Any]] = {
    "fr": {
        READY: "Prêt à signer",
        CONDITIONS: "Prêt, sous conditions",
        NOT_READY: "Pas encore prêt",
        "blockers": "À lever avant de signer",
        "questions": "Questions pour le prochain rendez-vous",
        "unknown": "trop de points restent inconnus pour signer",
        "blocker": ("point bloquant", "points bloquants"),
        "question": (
            "question pour le prochain rendez-vous",
            "questions pour le prochain rendez-vous",
        ),
        "first": "À lever d'abord : {what}.",
    },
    "en": {
        READY: "Ready to sign",
        CONDITIONS: "Ready with conditions",
        NOT_READY: "Not ready yet",
        "blockers": "To clear before signing",
        "questions": "Questions for the next meeting",
        "unknown": "too much is still unknown to sign",
        "blocker": ("blocker", "blockers"),
        "question": ("question for the next meeting", "questions for the next meeting"),
        "first": "To clear first: {what}.",
    },
}


@dataclass(frozen=True)
class Readiness:
    """A prospect's readiness: the verdict, the blockers worst first, and the questions for the
    next meeting."""

    level: str  # READY | CONDITIONS | NOT_READY
    blockers: tuple[Finding, ...]  # fired, worst first
    questions: tuple[str, ...]  # rule ids of the criteria to ask about, in rule order
    asks: tuple[dict[str, str], ...]  # the questions, both languages, same order
    criteria: int  # prospect rules evaluated
    mostly_unknown: bool

    def words(self, language: str) -> str:
        """The verdict as a reader says it ("Pas encore prêt", "Ready with conditions")."""
        return str(WORDS[language][self.level])

    def to_dict(self, language: str) -> dict[str, Any]:
        """The readiness as JSON (``readiness`` of a prospect's record), texts in ``language``."""
        return {
            "level": self.level,
            "verdict": self.words(language),
            "language": language,
            "mostly_unknown": self.mostly_unknown,
            "blockers": [
                {
                    "rule_id": f.rule_id,
                    "severity": f.severity,
                    "title": f.title.get(language, f.rule_id),
                    "message": f.message[language],
                    "to_clear": f.clear_when.text[language] if f.clear_when else None,
                    "next_step": f.advice[language],
                }
                for f in self.blockers
            ],
            "questions": [
                {"rule_id": rid, "question": ask[language]}
                for rid, ask in zip(self.questions, self.asks, strict=True)
            ],
            "open_questions": len(self.questions),
        }


def assess(findings: Sequence[Finding], criteria: int) -> Readiness:
    """The verdict from a prospect's findings (waivers applied); ``criteria``: the number of
    prospect rules evaluated (the silent ones passed)."""
    ordered = sort_findings(findings)
    blockers = tuple(f for f in ordered if f.status == FIRED)
    unknown = [f for f in findings if f.status == CANNOT_ASSESS]
    ids: list[str] = []
    asks: list[dict[str, str]] = []
    for f in sorted(unknown, key=lambda f: f.rule_id):
        ask = dict(f.question)
        if ask not in asks:  # two rules of one criterion ask one question
            ids.append(f.rule_id)
            asks.append(ask)
    mostly_unknown = criteria > 0 and len(unknown) * 2 > criteria
    if any(f.severity == "high" for f in blockers) or mostly_unknown:
        level = NOT_READY
    elif blockers or asks:
        level = CONDITIONS
    else:
        level = READY
    return Readiness(level, blockers, tuple(ids), tuple(asks), criteria, mostly_unknown)
