"""Configuration: one YAML file (``yaml.safe_load`` semantics), ``${ENV_VAR}`` for secrets.

Lookup order: ``--config PATH``, then ``$CMRULES_CONFIG``, then ``./cmrules.yaml``; with none,
the defaults below (the embedded local connector on the demo data).  Unknown keys are errors
naming the key, the file and the line.  See ``config.example.yaml`` for every key.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from . import decisions as decisions_mod
from .errors import ConfigError
from .profiles import Profile
from .profiles import parse as parse_profiles
from .signals import SignalSettings
from .yamlutil import error_line, line_of, load_with_lines, read_text

TOP_KEYS = {
    "source", "helpdesk", "match_by", "language", "fail_on", "rules", "signals", "http",
    "state", "profiles", "coverage", "vocabulary", "decisions", "waivers", "tasks",
}  # fmt: skip
WAIVERS_KEYS = {"max_days", "entries"}
WAIVER_ENTRY_KEYS = {"rule", "rules", "record", "vendor", "reason", "approved_by", "until"}
RULES_KEYS = {"builtin", "dirs", "disable", "params"}
SIGNALS_KEYS = {"regulated_industries", "unanswered_after_hours", "min_observed_days"}
COVERAGE_KEYS = {"activity_kinds", "attendees", "tags"}
HTTP_KEYS = {"timeout", "max_retries", "backoff_base", "backoff_max", "max_retry_after"}
STATE_KEYS = {"path"}
LANGUAGES = ("fr", "en")
SEVERITIES = ("high", "medium", "low")
_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass
class Config:
    """The validated configuration: sources, language, rules, profiles, signals, waivers and
    connector sections (defaults when no file)."""

    path: Path | None = None
    source: str = "local"
    helpdesk: str | None = None
    match_by: str = "domain"
    language: str = "fr"
    fail_on: str | None = None
    builtin_rules: bool = True
    rule_dirs: list[Path] = field(default_factory=list)
    disabled: list[str] = field(default_factory=list)
    params: dict[str, dict[str, Any]] = field(default_factory=dict)
    signals: SignalSettings = field(default_factory=SignalSettings)
    http: dict[str, Any] = field(default_factory=dict)
    state_path: Path | None = None
    profiles: list[Profile] = field(default_factory=list)
    #: source name -> what it records, overriding the connector's declaration (see Coverage)
    coverage: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: overrides of the core vocabulary (see cmrules.vocabulary)
    vocabulary: dict[str, Any] = field(default_factory=dict)
    decisions: decisions_mod.Settings = field(default_factory=decisions_mod.Settings)
    sections: dict[str, dict[str, Any]] = field(default_factory=dict)
    lines: dict[tuple[Any, ...], int] = field(default_factory=dict)
    waiver_max_days: int = 180
    #: ops waivers: each a mapping (rule, record, vendor, reason, approved_by, until) + "where"
    waivers: list[dict[str, Any]] = field(default_factory=list)
    tasks: bool = False  # data gaps -> tasks for the record owner (opt-in)

    @property
    def name(self) -> str:
        """Where the config came from, for messages: its path, or "defaults"."""
        return str(self.path) if self.path else "defaults"

    def where(self, *path: Any) -> str:
        """``file:line`` of a key, for messages."""
        if self.path is None:
            return "defaults"
        return f"{self.path}:{line_of(self.lines, path)}"

    def section(self, connector: str) -> dict[str, Any]:
        """A connector's own section (e.g. ``hubspot``), as a copy; empty when absent."""
        return dict(self.sections.get(connector) or {})

    def rule_paths(self) -> list[Path]:
        """The rule directories to load: the built-in rules (unless switched off), then
        ``rules.dirs``."""
        from .rulebook import builtin_rules_dir

        paths = [builtin_rules_dir()] if self.builtin_rules else []
        return paths + self.rule_dirs

    def default_state_path(self) -> Path:
        """The sync state file: ``state.path``, else one per source in the state directory."""
        if self.state_path is not None:
            return self.state_path
        from .paths import state_dir

        return state_dir() / f"sync-{self.source}.json"


# http keys: (kind, lowest, highest) — finite and bounded (max_retries: 1e30 retried forever)
HTTP_BOUNDS: dict[str, tuple[type, float, float]] = {
    "timeout": (float, 0.1, 600.0),
    "max_retries": (int, 0, 20),
    "backoff_base": (float, 0.0, 60.0),
    "backoff_max": (float, 0.0, 3600.0),
    "max_retry_after": (float, 0.0, 86400.0),
}
SIGNAL_BOUNDS: dict[str, tuple[type, float, float]] = {
    "unanswered_after_hours": (int, 0, 8760),
    "min_observed_days": (int, 0, 3650),
}


def find_config(explicit: str | None) -> Path | None:
    """``--config``, else ``$CMRULES_CONFIG``, else ``./cmrules.yaml``, else
    ``$XDG_CONFIG_HOME/cmrules/config.yaml`` (``~/.config/…``), else none (the demo)."""
    if explicit:
        return Path(explicit)
    env = os.environ.get("CMRULES_CONFIG")
    if env:
        return Path(env)
    from .paths import user_config_file

    for candidate in (Path("cmrules.yaml"), user_config_file()):
        if candidate.exists():
            return candidate
    return None


def bounded_number(value: Any, kind: type, low: float, high: float, name: str) -> str | None:
    """Why ``value`` is not a finite number of ``kind`` within [low, high] (None if it is)."""
    what = "a whole number" if kind is int else "a number"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"{name} must be {what} between {low:g} and {high:g}, got {value!r}"
    if kind is int and isinstance(value, float) and not value.is_integer():
        return f"{name} must be a whole number, got {value!r}"
    if not math.isfinite(value) or not low <= value <= high:
        return f"{name} must be {what} between {low:g} and {high:g}, got {value!r}"
    return None


def load(path: Path | None, known_connectors: set[str] | None = None) -> Config:
    """Load and validate a config file (``None``: defaults)."""
    if path is None:
        return Config()
    try:
        text = read_text(path, "config file")
    except ValueError as exc:
        hint = (
            "; pass an existing --config file or copy config.example.yaml"
            if "no such file" in str(exc)
            else ""
        )
        raise ConfigError(f"{exc}{hint}") from None
    try:
        data, lines = load_with_lines(text)
    except yaml.YAMLError as exc:
        raise ConfigError(
            f"{path}:{error_line(exc)}: invalid YAML: {getattr(exc, 'problem', exc)}"
        ) from None
    cfg = Config(path=path, lines=lines)
    if data is None:
        return cfg
    if not isinstance(data, dict):
        raise ConfigError(f"{path}:1: the config must be a mapping of keys to values")
    data = _interpolate(data, cfg, ())
    connectors = known_connectors if known_connectors is not None else _installed()

    for key in data:
        if key not in TOP_KEYS and key not in connectors:
            raise ConfigError(
                f"{cfg.where(key)}: unknown key {key!r}; allowed: "
                f"{', '.join(sorted(TOP_KEYS | connectors))}"
            )

    def get(mapping: Mapping[str, Any], key: str, kind: type | tuple[type, ...], *at: Any) -> Any:
        value = mapping.get(key)
        if value is not None and not isinstance(value, kind):
            names = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
            raise ConfigError(
                f"{cfg.where(*at, key)}: {'.'.join(map(str, (*at, key)))} must be "
                f"a {names}, got {value!r}"
            )
        return value

    cfg.source = get(data, "source", str) or "local"
    if cfg.source not in connectors:
        raise ConfigError(
            f"{cfg.where('source')}: unknown connector {cfg.source!r}; installed: "
            f"{', '.join(sorted(connectors))}"
        )
    cfg.helpdesk = get(data, "helpdesk", str)
    if cfg.helpdesk is not None and cfg.helpdesk not in connectors:
        raise ConfigError(
            f"{cfg.where('helpdesk')}: unknown connector {cfg.helpdesk!r}; "
            f"installed: {', '.join(sorted(connectors))}"
        )
    cfg.match_by = get(data, "match_by", str) or "domain"
    if cfg.match_by not in ("domain", "external_id"):
        raise ConfigError(f"{cfg.where('match_by')}: match_by must be domain or external_id")
    cfg.language = get(data, "language", str) or "fr"
    if cfg.language not in LANGUAGES:
        raise ConfigError(
            f"{cfg.where('language')}: language must be fr or en, got {cfg.language!r}"
        )
    cfg.fail_on = get(data, "fail_on", str)
    if cfg.fail_on is not None and cfg.fail_on not in SEVERITIES:
        raise ConfigError(f"{cfg.where('fail_on')}: fail_on must be high, medium or low")

    rules = get(data, "rules", dict) or {}
    _known(cfg, rules, RULES_KEYS, "rules")
    builtin = get(rules, "builtin", bool, "rules")
    cfg.builtin_rules = True if builtin is None else builtin
    dirs = get(rules, "dirs", list, "rules") or []
    base = path.parent
    cfg.rule_dirs = [(base / Path(os.path.expanduser(str(d)))).resolve() for d in dirs]
    cfg.disabled = [str(x) for x in (get(rules, "disable", list, "rules") or [])]
    params = get(rules, "params", dict, "rules") or {}
    for rid, values in params.items():
        if not isinstance(values, dict):
            raise ConfigError(
                f"{cfg.where('rules', 'params', rid)}: rules.params.{rid} must map "
                "parameter names to values"
            )
    cfg.params = {str(k): dict(v) for k, v in params.items()}

    sig = get(data, "signals", dict) or {}
    _known(cfg, sig, SIGNALS_KEYS, "signals")
    defaults = SignalSettings()
    industries = get(sig, "regulated_industries", list, "signals")
    for key, (kind, low, high) in SIGNAL_BOUNDS.items():
        if key in sig:
            bad = bounded_number(sig[key], kind, low, high, f"signals.{key}")
            if bad:
                raise ConfigError(f"{cfg.where('signals', key)}: {bad}")
    hours = get(sig, "unanswered_after_hours", int, "signals")
    min_days = get(sig, "min_observed_days", int, "signals")
    cfg.signals = SignalSettings(
        min_observed_days=min_days if min_days is not None else defaults.min_observed_days,
        regulated_industries=tuple(map(str, industries))
        if industries is not None
        else defaults.regulated_industries,
        unanswered_after_hours=hours if hours is not None else defaults.unanswered_after_hours,
    )

    cfg.profiles = parse_profiles(data.get("profiles"), cfg.where)
    cfg.decisions = decisions_mod.parse_settings(data.get("decisions"), cfg.where, base)

    http = get(data, "http", dict) or {}
    _known(cfg, http, HTTP_KEYS, "http")
    for key, value in http.items():
        kind, low, high = HTTP_BOUNDS[key]
        bad = bounded_number(value, kind, low, high, f"http.{key}")
        if bad:
            raise ConfigError(f"{cfg.where('http', key)}: {bad}")
    cfg.http = dict(http)

    state = get(data, "state", dict) or {}
    _known(cfg, state, STATE_KEYS, "state")
    if state.get("path"):
        cfg.state_path = (base / Path(os.path.expanduser(str(state["path"])))).resolve()

    coverage = get(data, "coverage", dict) or {}
    for name in coverage:
        if name not in connectors:
            raise ConfigError(
                f"{cfg.where('coverage', name)}: coverage.{name}: unknown connector; "
                f"installed: {', '.join(sorted(connectors))}"
            )
        cfg.coverage[name] = _coverage(cfg, name, get(coverage, name, dict, "coverage") or {})
    cfg.vocabulary = dict(get(data, "vocabulary", dict) or {})
    _load_waivers(cfg, get(data, "waivers", dict) or {})
    cfg.tasks = bool(get(data, "tasks", bool))

    for name in connectors:
        if name in data:
            section = get(data, name, dict)
            cfg.sections[name] = dict(section or {})
    return cfg


def _coverage(cfg: Config, name: str, values: Mapping[str, Any]) -> dict[str, Any]:
    from .model import TAG_ONBOARDING, TAG_STRATEGY, ActivityKind

    _known(cfg, values, COVERAGE_KEYS, f"coverage.{name}")
    choices = {
        "activity_kinds": {k.value for k in ActivityKind},
        "tags": {TAG_STRATEGY, TAG_ONBOARDING},
    }
    out: dict[str, Any] = {}
    for key, value in values.items():
        at = cfg.where("coverage", name, key)
        if key == "attendees":
            if not isinstance(value, bool):
                raise ConfigError(f"{at}: coverage.{name}.attendees must be true or false")
            out[key] = value
            continue
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{at}: coverage.{name}.{key} must be a list of names")
        bad = sorted(set(value) - choices[key])
        if bad:
            raise ConfigError(
                f"{at}: coverage.{name}.{key}: unknown {', '.join(bad)}; use "
                f"{', '.join(sorted(choices[key]))}"
            )
        out[key] = list(value)
    return out


def _load_waivers(cfg: Config, section: Mapping[str, Any]) -> None:
    """Shape checks only (types, keys): whether a waiver is valid today (known rule, reason,
    expiry) is decided at evaluation time and reported, never fatal."""
    _known(cfg, section, WAIVERS_KEYS, "waivers")
    max_days = section.get("max_days", 180)
    if isinstance(max_days, bool) or not isinstance(max_days, int) or max_days < 1:
        raise ConfigError(
            f"{cfg.where('waivers', 'max_days')}: waivers.max_days must be a whole number of "
            f"days (at least 1), got {max_days!r}"
        )
    cfg.waiver_max_days = max_days
    entries = section.get("entries") or []
    if not isinstance(entries, list):
        raise ConfigError(
            f"{cfg.where('waivers', 'entries')}: waivers.entries must be a list of waivers"
        )
    for i, entry in enumerate(entries):
        at = ("waivers", "entries", i)
        if not isinstance(entry, dict):
            raise ConfigError(
                f"{cfg.where(*at)}: each waiver is a mapping with rule, record, reason, "
                "approved_by and until"
            )
        for key in entry:
            if key not in WAIVER_ENTRY_KEYS:
                raise ConfigError(
                    f"{cfg.where(*at, key)}: unknown key {key!r} in a waiver; allowed: "
                    f"{', '.join(sorted(WAIVER_ENTRY_KEYS))}"
                )
        cfg.waivers.append({**entry, "where": cfg.where(*at)})


def _known(cfg: Config, mapping: Mapping[str, Any], allowed: set[str], section: str) -> None:
    for key in mapping:
        if key not in allowed:
            raise ConfigError(
                f"{cfg.where(section, key)}: unknown key {section}.{key}; allowed: "
                f"{', '.join(sorted(allowed))}"
            )


def check_section(cfg: Config, connector: str, allowed: frozenset[str]) -> None:
    """Unknown keys in a connector's section are errors (called when the connector is built)."""
    for key in cfg.sections.get(connector, {}):
        if key not in allowed:
            raise ConfigError(
                f"{cfg.where(connector, key)}: unknown key {connector}.{key}; "
                f"allowed: {', '.join(sorted(allowed))}"
            )


def _interpolate(value: Any, cfg: Config, at: tuple[Any, ...]) -> Any:
    """Replace ``${VAR}`` with the environment's value; a missing variable is an error."""
    if isinstance(value, dict):
        return {k: _interpolate(v, cfg, (*at, k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate(v, cfg, (*at, i)) for i, v in enumerate(value)]
    if isinstance(value, str) and "${" in value:

        def sub(m: re.Match[str]) -> str:
            name = m.group(1)
            env = os.environ.get(name)
            if env is None:
                raise ConfigError(
                    f"{cfg.where(*at)}: {'.'.join(map(str, at))} refers to ${{{name}}}, but the "
                    f"environment variable {name} is not set; export it before running cmrules"
                )
            return env

        return _ENV.sub(sub, value)
    return value


def _installed() -> set[str]:
    from .connector import available_connectors

    return set(available_connectors())
