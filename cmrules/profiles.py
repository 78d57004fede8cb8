"""Profiles: rule parameters and disabled rules per segment of the portfolio.

Config ``profiles:`` is a list, tried **top to bottom**; the first profile whose every
``match`` key matches the record wins; a record no profile matches gets the ``default``
profile, which is ``rules.params`` and ``rules.disable`` alone::

    profiles:
      - name: regulated
        match: {industry: [banking, assurance, santé]}   # a list: any of these values
        params: {CMR006: {max_validation_days: 14}}      # on top of rules.params
        disable: [CMR017]                                # on top of rules.disable
      - name: key-accounts
        match: {tier: gold, owner_team: Grands comptes}

Match keys are the record's attributes (``industry``, ``regulated``, ``tier``, ``size``,
``owner_team``; connectors fill them from CRM properties through their ``attributes``
mapping), ``kind`` (company or vendor) and ``property.NAME``: any CRM property (HubSpot
company property, Zendesk organisation field key, ``properties:`` of a local import row),
which the connector then reads on every organisation.  Values compare as text ignoring case
(``Banking`` = ``banking``; accents count); a record without the attribute does not match.
This module does not import durable_rules.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .model import ORG_ATTRIBUTES, Organisation
from .rulebook import Rule, Rulebook, configure

DEFAULT = "default"
PROPERTY = "property."  # match key prefix: a raw CRM property, e.g. property.hs_lead_status
MATCH_KEYS = (*sorted(ORG_ATTRIBUTES), "kind", "property.NAME")
PROFILE_KEYS = {"name", "match", "params", "disable"}


@dataclass(frozen=True)
class Profile:
    """A segment's thresholds: which records it matches, the parameters it sets and the rules it
    switches off."""

    name: str
    match: Mapping[str, tuple[str, ...]]  # key -> accepted values (case-folded text)
    params: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    disable: tuple[str, ...] = ()
    where: str = "config"  # file:line, for messages

    def matches(self, org: Organisation) -> bool:
        """Whether every match key holds for the record (text compared ignoring case; a missing
        attribute never matches)."""
        for key, accepted in self.match.items():
            if key == "kind":
                value: Any = org.kind.value
            elif key.startswith(PROPERTY):
                value = org.properties.get(key[len(PROPERTY) :])
            else:
                value = org.attributes.get(key)
            if value is None or _text(value) not in accepted:
                return False
        return True


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).strip().casefold()


def parse(raw: Any, where: Callable[..., str]) -> list[Profile]:
    """Structural checks of config ``profiles`` (``where(*path)`` gives ``file:line``)."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ConfigError(f"{where('profiles')}: profiles must be a list of profiles")
    out: list[Profile] = []
    seen: set[str] = set()
    for i, item in enumerate(raw):
        at = ("profiles", i)
        if not isinstance(item, dict):
            raise ConfigError(f"{where(*at)}: profiles[{i}] must be a mapping with name and match")
        extra = sorted(set(item) - PROFILE_KEYS)
        if extra:
            raise ConfigError(
                f"{where(*at, extra[0])}: unknown key profiles[{i}].{extra[0]}; allowed: "
                f"{', '.join(sorted(PROFILE_KEYS))}"
            )
        name = item.get("name")
        if not isinstance(name, str) or not name.strip():
            raise ConfigError(f"{where(*at)}: profiles[{i}] needs a name")
        if name == DEFAULT or name in seen:
            raise ConfigError(
                f"{where(*at, 'name')}: profile name {name!r} is "
                + ("reserved for records no profile matches" if name == DEFAULT else "used twice")
            )
        seen.add(name)
        match = item.get("match")
        if not isinstance(match, dict) or not match:
            raise ConfigError(
                f"{where(*at)}: profile {name!r} needs match: {{attribute: value or [values]}} "
                f"(attributes: {', '.join(MATCH_KEYS)})"
            )
        accepted: dict[str, tuple[str, ...]] = {}
        for key, value in match.items():
            if key not in MATCH_KEYS and not (
                str(key).startswith(PROPERTY) and len(str(key)) > len(PROPERTY)
            ):
                raise ConfigError(
                    f"{where(*at, 'match', key)}: profile {name!r} matches on unknown attribute "
                    f"{key!r}; use one of {', '.join(MATCH_KEYS)}"
                )
            values = value if isinstance(value, list) else [value]
            if not values or any(isinstance(v, dict | list) or v is None for v in values):
                raise ConfigError(
                    f"{where(*at, 'match', key)}: profile {name!r}: match.{key} must be a value "
                    "or a list of values"
                )
            accepted[str(key)] = tuple(_text(v) for v in values)
        params = item.get("params") or {}
        if not isinstance(params, dict) or not all(isinstance(v, dict) for v in params.values()):
            raise ConfigError(
                f"{where(*at, 'params')}: profile {name!r}: params must map rule ids to "
                "{parameter: value}"
            )
        disable = item.get("disable") or []
        if not isinstance(disable, list):
            raise ConfigError(f"{where(*at, 'disable')}: profile {name!r}: disable is a list")
        out.append(
            Profile(
                name=name,
                match=accepted,
                params={str(k): dict(v) for k, v in params.items()},
                disable=tuple(map(str, disable)),
                where=where(*at),
            )
        )
    return out


def property_names(profiles: Sequence[Profile]) -> tuple[str, ...]:
    """CRM properties the profiles match on (connectors read them into ``properties``)."""
    names = (k[len(PROPERTY) :] for p in profiles for k in p.match if k.startswith(PROPERTY))
    return tuple(sorted(set(names)))


def select(profiles: Sequence[Profile], org: Organisation) -> Profile | None:
    """The first profile matching ``org`` (``None``: the default)."""
    return next((p for p in profiles if p.matches(org)), None)


def merged(
    base_params: Mapping[str, Mapping[str, Any]],
    base_disabled: Iterable[str],
    profile: Profile | None,
) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Parameters and disabled rules of a profile: the profile's on top of the config's."""
    params = {rid: dict(v) for rid, v in base_params.items()}
    disabled = list(dict.fromkeys(base_disabled))
    if profile is not None:
        for rid, values in profile.params.items():
            params.setdefault(rid, {}).update(values)
        disabled.extend(r for r in profile.disable if r not in disabled)
    return params, disabled


def check(profiles: Sequence[Profile], rules: Sequence[Rule]) -> list[str]:
    """Problems of profiles against the loaded rules: unknown rule or parameter, bad value."""
    problems = []
    by_id = {r.id: r for r in rules}
    for p in profiles:
        for rid in p.disable:
            if rid not in by_id:
                problems.append(f"{p.where}: profile {p.name!r} disables unknown rule {rid!r}")
        for rid, values in p.params.items():
            rule = by_id.get(rid)
            if rule is None:
                problems.append(f"{p.where}: profile {p.name!r} sets parameters of unknown "
                                f"rule {rid!r}; known ids: {', '.join(sorted(by_id))}")  # fmt: skip
                continue
            try:
                configure([rule], params={rid: values})
            except ConfigError as exc:
                detail = str(exc).split(": ", 1)[-1].replace("rules.params.", "params.")
                problems.append(f"{p.where}: profile {p.name!r}: {detail}")
    return problems


class RuleSets:
    """The rulebook (and, on demand, the compiled engine) of each profile, from one set of
    loaded rules and the config's parameters."""

    def __init__(
        self,
        rules: Sequence[Rule],
        *,
        params: Mapping[str, Mapping[str, Any]] | None = None,
        disabled: Iterable[str] = (),
        profiles: Sequence[Profile] = (),
        config_name: str = "config",
    ):
        self.rules = list(rules)
        self.params = {k: dict(v) for k, v in (params or {}).items()}
        self.disabled = list(disabled)
        self.profiles = list(profiles)
        self.config_name = config_name
        self._files: dict[str, bytes] | None = None
        problems = check(self.profiles, self.rules)
        if problems:
            raise ConfigError("\n".join(problems))
        self._books: dict[str, Rulebook] = {}
        self._engines: dict[str, Any] = {}
        self.rulebook(DEFAULT)  # the config's own overrides are checked right away

    def files(self) -> dict[str, bytes]:
        """The rule files' content as loaded — read once, on first use (the decision log stores
        it), so a file edited during a long run is not mistaken for the rules the run used."""
        if self._files is None:
            paths = sorted({r.source.rsplit(":", 1)[0] for r in self.rules})
            self._files = {p: Path(p).read_bytes() for p in paths}
        return self._files

    def profile(self, name: str) -> Profile | None:
        """The profile of that name, or None."""
        return next((p for p in self.profiles if p.name == name), None)

    def select(self, org: Organisation) -> str:
        """The name of the first profile matching the record, else the default profile."""
        chosen = select(self.profiles, org)
        return chosen.name if chosen else DEFAULT

    def settings(self, name: str) -> tuple[dict[str, dict[str, Any]], list[str]]:
        """Effective ``(params, disabled)`` of a profile."""
        return merged(self.params, self.disabled, self.profile(name))

    def rulebook(self, name: str = DEFAULT) -> Rulebook:
        """The rulebook with the profile's parameters and disabled rules applied (built once per
        profile)."""
        if name not in self._books:
            params, disabled = self.settings(name)
            self._books[name] = configure(
                self.rules, params=params, disabled=disabled, config_name=self.config_name
            )
        return self._books[name]

    def engine(self, name: str = DEFAULT) -> Any:
        """The compiled engine of a profile, built on first use (durable_rules is loaded only
        then)."""
        if name not in self._engines:
            from .engine import Engine  # the only durable_rules import, loaded on demand

            self._engines[name] = Engine(self.rulebook(name))
        return self._engines[name]
