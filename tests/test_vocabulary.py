"""The core vocabulary: one classification and role inference for every connector."""

from __future__ import annotations

import pytest

from cmrules.errors import ConfigError
from cmrules.model import Activity, ActivityKind, Role
from cmrules.vocabulary import DEFAULT, Vocabulary


def act(kind: ActivityKind, title: str, **kw) -> Activity:
    return Activity("a1", kind, None, "c1", title=title, **kw)


@pytest.mark.parametrize(
    ("kind", "title", "expected"),
    [
        (ActivityKind.EMAIL, "Proposition : live Instagram", ActivityKind.PROPOSAL),
        (ActivityKind.NOTE, "Bilan KPI T3", ActivityKind.REPORT),
        (ActivityKind.EMAIL, "Avenant n°2 au contrat", ActivityKind.OFFER_CHANGE),
        (ActivityKind.MEETING, "Bilan de la saison", ActivityKind.MEETING),  # a meeting stays one
        (ActivityKind.TICKET, "Proposition de réponse", ActivityKind.TICKET),
    ],
)
def test_written_records_are_classified_by_title(kind, title, expected) -> None:
    assert DEFAULT.classify(act(kind, title)).kind == expected


def test_tags_and_proposal_status_from_french_and_english_words() -> None:
    a = DEFAULT.classify(act(ActivityKind.MEETING, "Revue stratégique et glossaire"))
    assert a.tags == {"strategy", "onboarding"}
    p = DEFAULT.classify(act(ActivityKind.NOTE, "Proposition vidéo — refusée, puis acceptée"))
    assert (p.kind, p.status) == (ActivityKind.PROPOSAL, "accepted")


def test_roles_from_job_titles_per_side() -> None:
    assert DEFAULT.roles_from_title("company", "Cheffe de projet") == {Role.PROJECT_OWNER}
    assert DEFAULT.roles_from_title("vendor", "Cheffe de projet") == {Role.VENDOR_REFERENT}
    assert DEFAULT.roles_from_title("company", "PDG") == {Role.EXECUTIVE_SPONSOR}


def test_configurable_and_validated() -> None:
    vocab = Vocabulary.build({"job_titles": {"company": {"project_owner": ["pilote"]}}})
    assert vocab.roles_from_title("company", "Pilote du projet social") == {Role.PROJECT_OWNER}
    assert vocab.roles_from_title("company", "Cheffe de projet") == set()  # table replaced
    with pytest.raises(ConfigError, match="unknown key 'titles'"):
        Vocabulary.build({"titles": {}})
    with pytest.raises(ConfigError, match="unknown role 'boss'"):
        Vocabulary.build({"job_titles": {"company": {"boss": ["x"]}}})
