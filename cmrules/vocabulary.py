"""One vocabulary for every connector: activity classification and role inference.

Connectors map raw records to the canonical model; the core classifies them here, the same way
whatever the source:

* a written record (e-mail, note) whose title names a proposal, a KPI report or an offer
  change becomes that kind (a meeting or call stays a meeting or call); the title and body of
  any activity tag it ``strategy`` or ``onboarding``; a proposal with no status gets one from
  status keywords;
* a contact with no role recorded gets roles from its job title (French and English keyword
  lists, one per side: a "chef de projet" directs the vendor at a client company and is the
  referent at an agency).  Roles recorded by the source always win.

Everything is configurable under the config key ``vocabulary`` (same shapes as the defaults
below); matching is case- and accent-insensitive, on whole words.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from .errors import ConfigError
from .model import (
    PROPOSAL_DECIDED,
    TAG_ONBOARDING,
    TAG_STRATEGY,
    Activity,
    ActivityKind,
    Contact,
    Dataset,
    OrgKind,
    Role,
)

#: CRM labels (association labels, picklist values) naming a role.
ROLE_LABELS: dict[str, str] = {
    "decision maker": "project_owner",
    "décideur": "project_owner",
    "décisionnaire": "project_owner",
    "project owner": "project_owner",
    "chef de projet": "project_owner",
    "executive sponsor": "executive_sponsor",
    "sponsor": "executive_sponsor",
    "sponsor exécutif": "executive_sponsor",
    "account manager": "vendor_referent",
    "vendor referent": "vendor_referent",
    "référent": "vendor_referent",
    "referent": "vendor_referent",
    "community manager": "community_manager",
}

_CM_TITLES = [
    "community manager", "social media manager", "gestionnaire de communauté",
    "animateur de communauté", "animatrice de communauté",
]  # fmt: skip
#: job-title keywords per side ("company": a client company, "vendor": an agency) and role.
JOB_TITLES: dict[str, dict[str, list[str]]] = {
    "company": {
        "executive_sponsor": [
            "ceo", "pdg", "président", "présidente", "directeur", "directrice", "director",
            "managing director", "general manager", "chief", "founder", "fondateur",
            "fondatrice", "gérant", "gérante", "vp", "vice president", "head of", "cmo", "coo",
        ],
        "project_owner": [
            "chef de projet", "cheffe de projet", "project manager", "project lead",
            "responsable communication", "responsable de la communication",
            "responsable marketing", "communication manager", "marketing manager",
            "chargé de communication", "chargée de communication", "product owner",
        ],
        "community_manager": _CM_TITLES,
    },
    "vendor": {
        "vendor_referent": [
            "account manager", "key account", "chargé de compte", "chargée de compte",
            "référent", "référente", "directeur de clientèle", "directrice de clientèle",
            "customer success", "client success", "chef de projet", "cheffe de projet",
            "project manager",
        ],
        "community_manager": _CM_TITLES,
    },
}  # fmt: skip
#: regular expressions (on the folded title / title + body) classifying an activity.
PATTERNS: dict[str, str] = {
    "proposal_pattern": r"\b(propositions?|proposals?|recommandations?|recommendations?)\b",
    "report_pattern": r"\b(reporting|kpis?|bilan|rapport mensuel|monthly report)\b",
    "offer_change_pattern": r"\b(avenant|nouvelle offre|offer update|offer change|new offer)\b",
    "strategy_pattern": r"\b(stratégie|strategie|stratégique|strategique|strategy|strategic"
    r"|roadmap|feuille de route)\b",
    "onboarding_pattern": r"\b(onboarding|glossaire|glossary|kick-?off|circuit de validation)\b",
}
#: keywords giving a proposal its status; the keyword appearing last wins.
STATUS_KEYWORDS: dict[str, list[str]] = {
    "accepted": ["accepted", "acceptée", "accepté", "validée", "validé", "approved", "approuvée"],
    "rejected": ["rejected", "refusée", "refusé", "declined", "rejetée", "rejeté"],
    "implemented": [
        "implemented", "mise en place", "mis en place", "réalisée", "realised", "realized",
    ],
}  # fmt: skip
KEYS = {"role_labels", "job_titles", "patterns", "status_keywords"}
#: kinds a title may re-classify: written records.  A meeting or a call stays what it is (a
#: "Bilan de la saison" meeting is still a meeting held); tickets, proposals … too.
_PLAIN = frozenset({ActivityKind.EMAIL, ActivityKind.NOTE})


def fold(text: str) -> str:
    """Case- and accent-insensitive form used for every keyword comparison."""
    if text.isascii():  # NFKD leaves ASCII alone and it has no combining mark
        return text.casefold()
    return _fold_short(text) if len(text) <= _MEMO_CHARS else _fold(text)


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


#: titles, labels and short texts repeat across a portfolio; bounded (at most ~1 MB of text)
_MEMO_CHARS = 120
_fold_short = functools.lru_cache(maxsize=8192)(_fold)


def keyword_re(keywords: Iterable[str]) -> re.Pattern[str] | None:
    """One pattern matching any of the keywords as whole words (longest first), or None."""
    words = sorted({fold(k).strip() for k in keywords if k and k.strip()}, key=len, reverse=True)
    if not words:
        return None
    return re.compile(r"(?<!\w)(" + "|".join(re.escape(w) for w in words) + r")(?!\w)")


def _role(where: str, value: Any) -> Role:
    try:
        return Role(str(value))
    except ValueError:
        raise ConfigError(
            f"{where}: unknown role {value!r}; use one of " + ", ".join(r.value for r in Role)
        ) from None


@dataclass(frozen=True)
class Vocabulary:
    """The core's vocabulary: role labels, job titles, and the keywords that classify activities
    and proposal statuses."""

    role_labels: Mapping[str, Role]
    job_titles: Mapping[str, tuple[tuple[Role, re.Pattern[str]], ...]]
    patterns: Mapping[str, re.Pattern[str]]
    status_keywords: tuple[tuple[str, re.Pattern[str]], ...]

    @classmethod
    def build(
        cls, overrides: Mapping[str, Any] | None = None, where: str = "vocabulary"
    ) -> Vocabulary:
        """The defaults, with ``overrides`` (same shapes) replacing whole entries."""
        o = dict(overrides or {})
        unknown = sorted(set(o) - KEYS)
        if unknown:
            raise ConfigError(
                f"{where}: unknown key {unknown[0]!r}; allowed: {', '.join(sorted(KEYS))}"
            )
        labels = _mapping(o.get("role_labels", ROLE_LABELS), f"{where}.role_labels")
        titles_raw = _mapping(o.get("job_titles", JOB_TITLES), f"{where}.job_titles")
        titles: dict[str, tuple[tuple[Role, re.Pattern[str]], ...]] = {}
        for side, roles in {**JOB_TITLES, **titles_raw}.items():
            if side not in ("company", "vendor"):
                raise ConfigError(f"{where}.job_titles: sides are company and vendor, not {side!r}")
            pairs = []
            for role, words in _mapping(roles, f"{where}.job_titles.{side}").items():
                pattern = keyword_re([words] if isinstance(words, str) else words or [])
                if pattern is not None:
                    pairs.append((_role(f"{where}.job_titles.{side}", role), pattern))
            titles[side] = tuple(pairs)
        patterns = {}
        for key, default in PATTERNS.items():
            value = _mapping(o.get("patterns", {}), f"{where}.patterns").get(key, default)
            try:
                patterns[key] = re.compile(fold(str(value)))
            except re.error as exc:
                raise ConfigError(
                    f"{where}.patterns.{key}: not a valid regular expression ({exc})"
                ) from None
        statuses = []
        raw_status = _mapping(o.get("status_keywords", STATUS_KEYWORDS), f"{where}.status_keywords")
        for status, words in raw_status.items():
            if status not in PROPOSAL_DECIDED | {"proposed"}:
                raise ConfigError(
                    f"{where}.status_keywords: unknown status {status!r}; use accepted, "
                    "rejected, implemented or proposed"
                )
            pattern = keyword_re([words] if isinstance(words, str) else words or [])
            if pattern is not None:
                statuses.append((str(status), pattern))
        return cls(
            {fold(str(k)).strip(): _role(f"{where}.role_labels", v) for k, v in labels.items()},
            titles,
            patterns,
            tuple(statuses),
        )

    # -- roles ---------------------------------------------------------------------------------
    def roles_from_labels(self, labels: Iterable[str]) -> set[Role]:
        """The roles named by CRM labels (e.g. a HubSpot association label)."""
        return {r for r in (self.role_labels.get(fold(x).strip()) for x in labels) if r}

    def roles_from_title(self, side: str, job_title: str | None) -> set[Role]:
        """The roles a job title implies on this side (company or vendor)."""
        if not job_title:
            return set()
        folded = fold(job_title)
        return {role for role, pattern in self.job_titles.get(side, ()) if pattern.search(folded)}

    # -- activities ----------------------------------------------------------------------------
    def kind_of(self, title: str, body: str = "") -> ActivityKind | None:
        """The kind a title names (proposal, offer change, report), if any."""
        return self._kind_of(fold(title) or fold(body.split("\n", 1)[0]))

    def _kind_of(self, folded: str) -> ActivityKind | None:
        if self.patterns["proposal_pattern"].search(folded):
            return ActivityKind.PROPOSAL
        if self.patterns["offer_change_pattern"].search(folded):
            return ActivityKind.OFFER_CHANGE
        if self.patterns["report_pattern"].search(folded):
            return ActivityKind.REPORT
        return None

    def tags_of(self, text: str) -> set[str]:
        """``strategy`` and ``onboarding`` tags found in an activity's text."""
        return self._tags_of(fold(text))

    def _tags_of(self, folded: str) -> set[str]:
        tags = set()
        if self.patterns["strategy_pattern"].search(folded):
            tags.add(TAG_STRATEGY)
        if self.patterns["onboarding_pattern"].search(folded):
            tags.add(TAG_ONBOARDING)
        return tags

    def proposal_status(self, *texts: str) -> str:
        """From the first text holding a status keyword; the keyword appearing last wins
        ("rejected, then accepted")."""
        return self._status_of(*(fold(text) for text in texts))

    def _status_of(self, *folded_texts: str) -> str:
        for folded in folded_texts:
            best: tuple[int, str] | None = None
            for status, pattern in self.status_keywords:
                for match in pattern.finditer(folded):
                    if best is None or match.start() >= best[0]:
                        best = (match.start(), status)
            if best is not None:
                return best[1]
        return "proposed"

    def classify(self, a: Activity) -> Activity:
        """The activity with its kind, proposal status and tags read from its text when the
        source left them plain."""
        title, body = fold(a.title), fold(a.body)
        text = f"{title}\n{body}"  # = fold(f"{a.title}\n{a.body}"): folding is per character
        kind = a.kind
        if kind in _PLAIN:
            kind = self._kind_of(title or body.split("\n", 1)[0]) or kind
        status = a.status
        if kind == ActivityKind.PROPOSAL and not status:
            status = self._status_of(text)
        tags = a.tags | self._tags_of(text)
        if (kind, status, tags) == (a.kind, a.status, a.tags):
            return a
        return replace(a, kind=kind, status=status, tags=frozenset(tags))

    def infer(self, c: Contact, side: str) -> Contact:
        """The contact with roles from its job title when the source gave none."""
        if c.roles:
            return c
        roles = self.roles_from_title(side, c.job_title)
        return replace(c, roles=frozenset(roles)) if roles else c

    def apply(self, ds: Dataset) -> None:
        """Classify every activity and fill in missing roles, in place."""
        sides = {
            o.id: ("vendor" if o.kind == OrgKind.VENDOR else "company")
            for o in ds.organisations.values()
        }
        ds.activities[:] = [self.classify(a) for a in ds.activities]
        ds.contacts[:] = [self.infer(c, sides.get(c.org_id or "", "company")) for c in ds.contacts]
        ds.add()  # drop the lookup index


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where} must be a mapping")
    return value


DEFAULT = Vocabulary.build()
