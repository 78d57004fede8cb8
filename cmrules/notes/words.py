"""The fixed words of notes and terminal output, in French and English.

Templates here are ours (never CRM text).  French strings use the narrow no-break space
before ``: ; ! ?`` through :func:`cmrules.text.typography`, applied when rendering.
"""

from __future__ import annotations

from typing import Any

LABELS: dict[str, dict[str, Any]] = {
    "fr": {
        "title": "cmrules, {date}",
        "vendor": "Prestataire : {name}",
        "risk": "Niveau de risque : {level}",
        "verdict": "Risque {level} : {flags}.",
        "verdict_none": "Aucun point ouvert.",
        "first_step": "À faire d'abord : {step}",
        "flags": ("point ouvert", "points ouverts"),
        "waived_n": ("point suspendu", "points suspendus"),
        "since": "Depuis la dernière note : {items}.",
        "first_note": "Première note cmrules pour cette fiche.",
        "nothing_new": "rien de nouveau",
        "new": ("nouveau point", "nouveaux points"),
        "resolved": "bonne nouvelle, réglé : {items}",
        "newly_waived": "suspendu : {items}",
        "returned": "fin de suspension, à nouveau ouvert : {items}",
        "open_since": "Ouvert depuis le {date}.",
        "to_clear": "Pour lever : {what}.",
        "waived": "Suspendu jusqu'au {until}{by} : {reason}",
        "by": " par {by}",
        "gaps": "Pour évaluer {n} {points} de plus, renseignez : {fields}.",
        "points": ("point", "points"),
        "question": "Question",
        "finding": "Constat",
        "evidence": "Preuves",
        "advice": "À faire",
        "clear": "Pour lever",
        "waived_by": "Suspendu jusqu'au",
        "cannot": "Impossible d'évaluer",
        "none": "Aucun risque détecté.",
        "more": "… et {n} de plus (voir « cmrules evaluate »).",
        "company": "Dans l'entreprise",
        "vendor_side": "Chez le prestataire",
        "levels": {
            "high": "élevé",
            "medium": "moyen",
            "low": "faible",
            "info": "information",
            "none": "aucun",
        },
        "sev": {"high": "ÉLEVÉ", "medium": "MOYEN", "low": "FAIBLE", "info": "INFO",
                "waived": "SUSPENDU"},
    },
    "en": {
        "title": "cmrules, {date}",
        "vendor": "Vendor: {name}",
        "risk": "Risk level: {level}",
        "verdict": "{level} risk: {flags}.",
        "verdict_none": "No open flag.",
        "first_step": "First step: {step}",
        "flags": ("open flag", "open flags"),
        "waived_n": ("waived flag", "waived flags"),
        "since": "Since the last note: {items}.",
        "first_note": "First cmrules note on this record.",
        "nothing_new": "nothing new",
        "new": ("new flag", "new flags"),
        "resolved": "good news, resolved: {items}",
        "newly_waived": "waived: {items}",
        "returned": "waiver ended, open again: {items}",
        "open_since": "Open since {date}.",
        "to_clear": "To clear: {what}.",
        "waived": "Waived until {until}{by}: {reason}",
        "by": " by {by}",
        "gaps": "To assess {n} more {points}, fill in: {fields}.",
        "points": ("point", "points"),
        "question": "Question",
        "finding": "Finding",
        "evidence": "Evidence",
        "advice": "Next step",
        "clear": "To clear",
        "waived_by": "Waived until",
        "cannot": "Cannot assess",
        "none": "No risk found.",
        "more": "… and {n} more (see 'cmrules evaluate').",
        "company": "Inside the company",
        "vendor_side": "At the vendor",
        "levels": {
            "high": "high",
            "medium": "medium",
            "low": "low",
            "info": "information",
            "none": "none",
        },
        "sev": {"high": "HIGH", "medium": "MEDIUM", "low": "LOW", "info": "INFO",
                "waived": "WAIVED"},
    },
}  # fmt: skip

#: Values of a ``language`` / ``country`` record attribute that pick each note language.
LANGUAGE_VALUES: dict[str, str] = {
    **dict.fromkeys(
        ("fr", "fra", "fre", "french", "français", "francais", "france", "be", "belgique",
         "belgium", "ch", "suisse", "lu", "luxembourg", "mc", "monaco", "sn", "ci", "ma", "tn",
         "dz"),
        "fr",
    ),
    **dict.fromkeys(
        ("en", "eng", "english", "anglais", "gb", "uk", "united kingdom", "royaume-uni", "us",
         "usa", "united states", "ie", "ireland", "au", "australia", "nz"),
        "en",
    ),
}  # fmt: skip
