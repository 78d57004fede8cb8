"""A finding's fingerprint is written into every CRM note: it must stay the sha256 of
``json.dumps(payload, sort_keys=True, default=str)`` byte for byte, or an upgrade (a faster
encoder, a reordered payload) would rewrite every note in every CRM.  Pinned here against that
formula, written out, for fired and cannot-assess findings of every rule."""

from __future__ import annotations

import hashlib
import json

from cmrules.engine import CANNOT_ASSESS, FIRED, Outcome
from cmrules.findings import Subject, build
from cmrules.signals import REGISTRY, Reason, Ref, SignalValue

SUBJECT = Subject("c1", "Acme & Fils", "company", "v1", "Agence")
# records with accents and a check mark (escaped as \\u in the JSON), given out of order
REFS = (Ref("contact", "p-\u00e9", "Zo\u00e9"), Ref("contact", "p1\u2713", "Ana"))


def _documented(rule_id, status, finding):
    evidence = [
        [
            e.signal,
            None if REGISTRY[e.signal].volatile else e.value,  # days since …: value left out
            sorted(f"{k}:{i}" for k, i, _ in e.records),
            e.reason.code if e.reason else None,
        ]
        for e in finding.evidence
    ]
    payload = {"rule": rule_id, "status": status, "subject": ["company", "c1", "v1"],
               "evidence": evidence}  # fmt: skip
    raw = json.dumps(payload, sort_keys=True, default=str).encode()
    return hashlib.sha256(raw).hexdigest()[:16]


def test_every_rule_fingerprints_by_the_documented_formula(rulebook):
    rules = rulebook.for_subject("company")
    assert any(REGISTRY[s].volatile for r in rules for s in r.signals)  # the volatile case runs
    for rule in rules:
        cases = (
            (FIRED, {s: SignalValue(0.1 + 0.2, REFS) for s in rule.signals}),  # a long float
            (FIRED, {s: SignalValue(True) for s in rule.signals}),
            (CANNOT_ASSESS, {s: SignalValue(None, reason=Reason("missing")) for s in rule.signals}),
            (CANNOT_ASSESS, {}),  # no value at all: missing
        )
        for status, values in cases:
            finding = build(rule, Outcome(rule.id, status), SUBJECT, values)
            assert finding.fingerprint == _documented(rule.id, status, finding), rule.id


def test_the_fingerprint_ignores_labels_and_record_order_but_not_records(rulebook):
    rule = rulebook.for_subject("company")[0]
    fired = Outcome(rule.id, FIRED)

    def fp(refs):
        return build(rule, fired, SUBJECT, {s: SignalValue(2, refs) for s in rule.signals})

    relabelled = tuple(Ref(r.kind, r.id, "renamed") for r in reversed(REFS))
    assert fp(REFS).fingerprint == fp(relabelled).fingerprint
    assert fp(REFS).fingerprint != fp(REFS[:1]).fingerprint
