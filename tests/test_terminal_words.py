"""The terminal as a reader of one language sees it: every demo vendor and prospect evaluated
in French must print no English word and no identifier, and the reverse in English.

CRM text (names, activity titles — French in the demo) is data and stays as it is, so it is
removed before the words are checked; what remains is ours: headings, kinds, risk levels,
evidence and advice labels, clear-when targets, the run summary and the ops lines.
"""

from __future__ import annotations

import re
from importlib import resources

import pytest
import yaml
from click.testing import CliRunner

from cmrules.cli import cli

AS_OF = ["--as-of", "2026-11-20T12:00:00Z"]
IDENTIFIER = re.compile(r"\b[a-z]+(?:_[a-z0-9]+)+\b|\b[a-z]+\.[a-z-]+\b")

#: words only an English reader writes (none is also French)
ENGLISH = {
    "the", "and", "with", "of", "or", "at", "to", "in", "no", "company", "vendor", "record",
    "records", "evaluated", "written", "flag", "flags", "updates", "unchanged", "failures",
    "data", "only", "ops", "provide", "connect", "evidence", "next", "step", "clear", "none",
    "high", "medium", "low", "meeting", "meetings", "since", "open", "waived", "task",
    "missing", "cannot", "assess", "attribute", "write", "instead", "least", "most", "days",
    "now", "threshold", "last", "share", "agreed", "referent", "owner", "owners", "risk",
}  # fmt: skip

#: words only a French reader writes (none is also English)
FRENCH = {
    "le", "la", "les", "des", "du", "et", "au", "aux", "sur", "pour", "avec", "fiche",
    "fiches", "évaluée", "évaluées", "entreprise", "prestataire", "preuves", "lever", "faire",
    "aucun", "aucune", "élevé", "moyen", "faible", "donnée", "données", "réunion", "réunions",
    "jours", "depuis", "lieu", "échec", "écrite", "tâche", "renseignez", "indiquez",
    "enregistrez", "connectez", "impossible", "évaluer", "seuls", "référent", "seuil",
    "aujourd’hui", "moins", "plus", "inchangée",
}  # fmt: skip

FOREIGN = {"fr": ENGLISH, "en": FRENCH}


def crm_text() -> list[str]:
    """Every name and title of the demo data, longest first (so "Point mensuel décembre" goes
    before "Point mensuel")."""
    demo = yaml.safe_load(resources.files("cmrules.data").joinpath("demo.yaml").read_text("utf-8"))
    found: set[str] = set()

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("name", "title") and isinstance(value, str):
                    found.add(value)
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(demo)
    found |= {REASON, "Nouvelle règle", "Réunions reprises"}
    return sorted(found, key=len, reverse=True)


def demo_ids() -> set[str]:
    demo = yaml.safe_load(resources.files("cmrules.data").joinpath("demo.yaml").read_text("utf-8"))
    return {o["id"] for o in demo["organisations"]}


def terminal(lang: str) -> str:
    """What `evaluate` prints (table and markdown, stdout and stderr) for every demo vendor and
    prospect, and the `sync` summary."""
    runner = CliRunner()
    out = []
    subjects = [["--vendor", v] for v in ("v-hashtag", "v-pixel", "v-buzz", "v-bleucitron",
                                          "v-nuage")]  # fmt: skip
    subjects += [["--company", c] for c in ("Prospect SA", "Northwind Outdoor Ltd")]
    for args in subjects:
        for fmt in ("table", "markdown"):
            res = runner.invoke(
                cli, ["evaluate", *args, "--no-write", "--lang", lang, "--format", fmt, *AS_OF]
            )
            assert res.exit_code == 0, res.output
            out.append(res.output)
    res = runner.invoke(cli, ["sync", "--dry-run", "--lang", lang, *AS_OF])
    assert res.exit_code == 0, res.output
    out.append(res.output)
    out += acting(runner, lang)
    return "\n".join(line for o in out for line in o.splitlines() if not line.startswith("("))


def acting(runner: CliRunner, lang: str) -> list[str]:
    """A week of acting on flags: tasks on, a waiver by hand, two config waivers that cannot
    apply; then `history`, `waivers` and `tasks`."""
    with open("acting.yaml", "w", encoding="utf-8") as f:
        f.write(ACTING)
    week = ["--as-of", "2026-11-27T12:00:00Z"]
    commands = [
        ["sync", "--full", "--lang", lang, *AS_OF],
        ["waive", "--company", "Café Médina", "--rule", "CMR011", "--until", "2027-01-31",
         "--reason", REASON, "--by", "Claire Martin", "--lang", lang, *week],
        ["sync", "--lang", lang, *week],
        ["evaluate", "--company", "Hôtel Les Embruns", "--dry-run", "--lang", lang, *week],
        ["history", "--company", "Café Médina", "--lang", lang],
        ["waivers", "--lang", lang, *week],
        ["tasks", "--all", "--lang", lang],
    ]  # fmt: skip
    out = []
    for args in commands:
        res = runner.invoke(cli, ["--config", "acting.yaml", *args])
        assert res.exit_code == 0, res.output
        out.append(res.output)
    # a task's title and body are written in its record's language, like a note: only the
    # listing's own words (number, status, record) are the reader's
    tasks = out.pop().splitlines()
    assert len(tasks) >= 4, tasks
    out.append("\n".join(t.split(":")[0] for t in tasks if t.startswith("#")))
    return out


REASON = "Points hebdo dès janvier"
ACTING = """tasks: true
waivers:
  entries:
    - {rule: CMR099, record: "Café*", reason: "Nouvelle règle", until: 2027-01-01}
    - {rule: CMR010, record: "Café*", reason: "Réunions reprises", until: 2026-01-01}
"""


@pytest.fixture(scope="module", params=["fr", "en"])
def printed(request, tmp_path_factory):
    """One run per language, isolated like every test (conftest's fixture is per test)."""
    with pytest.MonkeyPatch.context() as mp:
        home = tmp_path_factory.mktemp("home")
        mp.setenv("CMRULES_HOME", str(home))
        mp.delenv("CMRULES_CONFIG", raising=False)
        for var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME"):
            mp.delenv(var, raising=False)
        mp.chdir(home)
        yield request.param, terminal(request.param)


def test_no_word_of_the_other_language(printed):
    """Every line of ours is in the reader's language (CRM names and titles removed first)."""
    lang, text = printed
    for name in crm_text():
        text = text.replace(name, " ")
    text = re.sub(r"\S*/\S*", " ", text)  # paths (where a config waiver is)
    words = set(re.findall(r"[a-zà-ÿ’]+", text.lower()))
    assert not words & FOREIGN[lang], sorted(words & FOREIGN[lang])


def test_no_identifier_or_record_id(printed):
    """No snake_case or dotted name, no record id, no "(s)" plural, no "at most 0"."""
    _, text = printed
    ids = demo_ids()
    for line in text.splitlines():
        line = re.sub(r"\S+\.yaml(:\d+)?", "", line)  # where a config waiver is
        assert not IDENTIFIER.search(line), line
        assert not any(re.search(rf"\b{re.escape(i)}\b", line) for i in ids), line
        assert "(s)" not in line and "au plus 0 " not in line and "at most 0 " not in line, line


def test_numbers_and_typography_per_language(printed):
    """Percentages and decimals written one way per language; French puts a narrow no-break
    space before : ; ! ? in every line of ours (CRM text keeps its own spacing)."""
    lang, text = printed
    for name in crm_text():
        text = text.replace(name, "")
    if lang == "fr":
        assert "25\u202f%" in text and "30\u202f%" in text and not re.search(r"\d ?%", text)
        assert "0,33 réunion par mois" in text and not re.search(r"\d\.\d", text)
        glued = re.findall(r".{0,20}[^\s\u202f][:;!?](?:\s|$)", text, re.M)
        assert not glued, glued
        assert "1 fiche évaluée\u202f; " in text and "fiches évaluées\u202f; " in text
    else:
        assert "25%" in text and "30%" in text and "\u202f" not in text and " %" not in text
        assert "0.33 meetings per month" in text and not re.search(r"\d,\d", text)
        assert "1 record evaluated; " in text and "records evaluated; " in text


def test_how_to_provide_the_data_is_said_in_words():
    """A signal's "how to provide the data" (cannot-assess advice, ops lines, explain) names
    no attribute or activity kind by its identifier: "escalation_plan" became words."""
    from cmrules.signals import REGISTRY

    for name, spec in REGISTRY.items():
        for lang in ("fr", "en"):
            assert not IDENTIFIER.search(spec.missing[lang]), (name, spec.missing[lang])
