"""Human words for every signal and attribute, in French and English.

Notes, ``clear_when`` and data-gap lines never show an identifier: they use these labels.
This is vocabulary (nouns, with their plural), not sentences per rule: the sentences are built
by :mod:`cmrules.clearing` and :mod:`cmrules.notes` from a rule's condition.

Kinds of signal:

* ``count`` — a number of things: "at least 1 referent", "au plus 1 responsable de projet";
* ``measure`` — a quantity with a unit: "median validation time at most 7 days";
* ``rate`` — a share of decided items (the evidence records are the decided items);
* ``days_since`` — days since an event: cleared by a new event;
* ``bool`` — a yes/no fact, with a phrase for each side.

``gap`` says what the record's owner can fill in to let a rule be assessed; ``None`` means only
ops can provide the data (connect a helpdesk source): that goes to the run summary and
``cmrules check``, never into a note.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Words:
    """A word or phrase in French and English, picked with ``words[language]``."""

    fr: str
    en: str

    def __getitem__(self, language: str) -> str:
        return self.fr if language == "fr" else self.en


@dataclass(frozen=True)
class SignalLabel:
    """How to say a signal in words: its noun, unit, true/false phrases, what resets it, what to
    fill in."""

    kind: str  # count | measure | rate | days_since | bool
    label: Words  # what it is, as a noun phrase
    one: Words | None = None  # unit, singular (count, measure, rate)
    other: Words | None = None  # unit, plural
    suffix: Words | None = None  # window after the unit: "over 90 days"
    true: Words | None = None  # bool: the phrase when true
    false: Words | None = None  # bool: the phrase when false
    event: Words | None = None  # days_since: the event that resets the count
    gap: Words | None = None  # what the record owner fills in; None: ops only
    actionable: bool = True  # False: a fact about the business, not something to change
    feminine: bool = False  # French gender of the unit: "aucune réunion", "aucun client"


W = Words
_DAY, _DAYS = W("jour", "day"), W("jours", "days")

SIGNALS: Mapping[str, SignalLabel] = {
    "directing_contacts": SignalLabel(
        "count", W("responsables de projet", "project owners"),
        W("responsable de projet", "project owner"), W("responsables de projet", "project owners"),
        gap=W("contacts de l’entreprise et leur rôle", "company contacts and their roles"),
    ),
    "owner_social_media_familiar": SignalLabel(
        "bool", W("responsable de projet familier des médias sociaux",
                  "project owner familiar with social media"),
        true=W("un responsable de projet familier des médias sociaux",
               "a project owner familiar with social media"),
        false=W("aucun responsable de projet familier des médias sociaux",
                "no project owner familiar with social media"),
        gap=W("aisance du responsable de projet avec les médias sociaux",
              "project owner’s familiarity with social media"),
    ),
    "executive_sponsor": SignalLabel(
        "bool", W("sponsor de direction", "executive sponsor"),
        true=W("un sponsor de direction désigné", "an executive sponsor named"),
        false=W("aucun sponsor de direction", "no executive sponsor"),
        gap=W("sponsor de direction", "executive sponsor"),
    ),
    "exec_meetings_180d": SignalLabel(
        "count", W("réunions avec la direction", "meetings with leadership"),
        W("réunion avec la direction", "meeting with leadership"),
        W("réunions avec la direction", "meetings with leadership"),
        suffix=W("sur 180 jours", "over 180 days"),
        gap=W("réunions avec le prestataire et leurs participants",
              "meetings with the vendor and who attended"),
        feminine=True,
    ),
    "regulated_activity": SignalLabel(
        "bool", W("activité technique ou réglementée", "technical or regulated business"),
        true=W("une activité technique ou réglementée", "a technical or regulated business"),
        false=W("une activité ni technique ni réglementée",
                "a business neither technical nor regulated"),
        gap=W("secteur d’activité", "industry"), actionable=False,
    ),
    "onboarding_done": SignalLabel(
        "bool", W("onboarding du prestataire", "vendor onboarding"),
        true=W("un onboarding du prestataire (glossaire, circuit de validation)",
               "a vendor onboarding (glossary, validation circuit)"),
        false=W("aucun onboarding du prestataire", "no vendor onboarding"),
        gap=W("onboarding du prestataire", "vendor onboarding"),
    ),
    "validation_median_days": SignalLabel(
        "measure", W("délai médian de validation", "median validation time"), _DAY, _DAYS,
        gap=W("dates de décision des propositions", "decision dates of the proposals"),
    ),
    "days_since_offer_revision": SignalLabel(
        "days_since", W("ancienneté de l’offre", "age of the offer"), _DAY, _DAYS,
        event=W("une révision de l’offre", "an offer revision"),
        gap=W("date de début de la collaboration", "engagement start date"),
    ),
    "vendor_referents": SignalLabel(
        "count", W("référents chez le prestataire", "referents at the vendor"),
        W("référent chez le prestataire", "referent at the vendor"),
        W("référents chez le prestataire", "referents at the vendor"),
        gap=W("interlocuteurs du prestataire et son référent", "vendor people and its referent"),
    ),
    "days_since_last_meeting": SignalLabel(
        "days_since", W("jours depuis la dernière réunion", "days since the last meeting"),
        _DAY, _DAYS, event=W("une réunion avec le prestataire", "a meeting with the vendor"),
        gap=W("réunions avec le prestataire", "meetings with the vendor"),
    ),
    "meetings_per_month": SignalLabel(
        "count", W("réunions par mois", "meetings per month"),
        W("réunion par mois", "meeting per month"), W("réunions par mois", "meetings per month"),
        suffix=W("sur 90 jours", "over 90 days"),
        gap=W("réunions avec le prestataire", "meetings with the vendor"),
        feminine=True,
    ),
    "exchanges_per_month": SignalLabel(
        "count", W("échanges par mois", "exchanges per month"),
        W("échange par mois", "exchange per month"), W("échanges par mois", "exchanges per month"),
        suffix=W("sur 90 jours", "over 90 days"),
        gap=W("échanges avec le prestataire", "exchanges with the vendor"),
    ),
    "strategy_reviews_365d": SignalLabel(
        "count", W("revues stratégiques", "strategy reviews"),
        W("revue stratégique", "strategy review"), W("revues stratégiques", "strategy reviews"),
        suffix=W("sur 12 mois", "over 12 months"),
        gap=W("revues stratégiques", "strategy reviews"),
        feminine=True,
    ),
    "proposals_90d": SignalLabel(
        "count", W("propositions du prestataire", "vendor proposals"),
        W("proposition du prestataire", "vendor proposal"),
        W("propositions du prestataire", "vendor proposals"),
        suffix=W("sur 90 jours", "over 90 days"),
        gap=W("propositions du prestataire", "vendor proposals"),
        feminine=True,
    ),
    "proposal_acceptance_rate": SignalLabel(
        "rate", W("part des propositions suivies", "share of proposals followed"),
        W("proposition acceptée", "accepted proposal"),
        W("propositions acceptées", "accepted proposals"),
        gap=W("décision sur chaque proposition", "decision on each proposal"),
        feminine=True,
    ),
    "escalation_plan": SignalLabel(
        "bool", W("procédure de crise", "crisis procedure"),
        true=W("une procédure de crise e-réputation convenue",
               "an agreed e-reputation crisis procedure"),
        false=W("aucune procédure de crise", "no crisis procedure"),
        gap=W("procédure de crise", "crisis procedure"),
    ),
    "kpis_defined": SignalLabel(
        "bool", W("indicateurs convenus", "KPIs agreed"),
        true=W("des indicateurs d’impact convenus", "impact KPIs agreed"),
        false=W("aucun indicateur convenu", "no KPIs agreed"),
        gap=W("indicateurs convenus", "KPIs agreed"),
    ),
    "days_since_kpi_report": SignalLabel(
        "days_since", W("jours depuis le dernier bilan", "days since the last report"),
        _DAY, _DAYS, event=W("un bilan d’indicateurs", "a KPI report"),
        gap=W("bilans d’indicateurs", "KPI reports"),
    ),
    "median_first_reply_minutes": SignalLabel(
        "measure", W("délai médian de première réponse", "median first-reply time"),
        W("minute ouvrée", "business minute"), W("minutes ouvrées", "business minutes"),
        feminine=True,
    ),
    "unanswered_requests": SignalLabel(
        "count", W("demandes sans réponse", "unanswered requests"),
        W("demande sans réponse", "unanswered request"),
        W("demandes sans réponse", "unanswered requests"),
        feminine=True,
    ),
    "clients_without_referent": SignalLabel(
        "count", W("clients sans référent", "clients without a referent"),
        W("client sans référent", "client without a referent"),
        W("clients sans référent", "clients without a referent"),
        gap=W("interlocuteurs du prestataire et ses référents", "vendor people and referents"),
    ),
    "offer_revisions_365d": SignalLabel(
        "count", W("révisions de l’offre", "offer revisions"),
        W("révision de l’offre", "offer revision"), W("révisions de l’offre", "offer revisions"),
        suffix=W("sur 12 mois", "over 12 months"),
        gap=W("révisions de l’offre", "offer revisions"),
        feminine=True,
    ),
    "portfolio_proposals_90d": SignalLabel(
        "count", W("propositions du prestataire", "vendor proposals"),
        W("proposition", "proposal"), W("propositions", "proposals"),
        suffix=W("sur 90 jours, tous clients", "over 90 days, all clients"),
        gap=W("propositions du prestataire", "vendor proposals"),
        feminine=True,
    ),
}  # fmt: skip

#: Record fields that evidence can point at (engagement attributes and dates).
ATTRIBUTES: Mapping[str, Words] = {
    "started_at": W("début de la collaboration", "start of the engagement"),
    "offer_last_revised": W("dernière révision de l’offre", "last offer revision"),
    "kpis_defined": W("indicateurs convenus", "KPIs agreed"),
    "escalation_plan": W("procédure de crise", "crisis procedure"),
    "onboarding_done": W("onboarding du prestataire", "vendor onboarding"),
    "regulated": W("activité réglementée", "regulated business"),
    "industry": W("secteur d’activité", "industry"),
}

_FALLBACK = SignalLabel("count", W("donnée", "data point"), W("élément", "item"),
                        W("éléments", "items"))  # fmt: skip


def signal_label(name: str) -> SignalLabel:
    """The label of a signal; a rule-author's custom signal without one gets a neutral noun,
    never its identifier."""
    return SIGNALS.get(name, _FALLBACK)


def record_label(kind: str, label: str, language: str) -> str:
    """The label of an evidence record; an engagement field is translated to words."""
    if kind == "engagement" and label in ATTRIBUTES:
        return ATTRIBUTES[label][language]
    return label
