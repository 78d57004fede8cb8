"""The decision log: one JSON line per evaluated record, enough to replay it later.

Every evaluation that writes (and dry runs, with ``decisions.dry_runs: true``) appends, per
record: a decision id, when, ``as_of``, the record, the profile, the **rule-set hash**, the
signal values with their source record ids, the outcomes with their fingerprints, the note
fingerprint and what was written.  The rule set — every rule file's content, the effective
parameters and disabled rules — is stored content-addressed beside the log
(``rulesets/<hash>.json`` naming ``rules/<sha256>.yaml`` files), so ``cmrules replay`` can
re-evaluate a decision with the rules of that day after the files on disk changed.

Privacy: contact e-mails in names and labels are masked (``m***@example.com``;
``decisions.mask_emails: false`` keeps them); record ids are kept, replay needs them.  Secrets
are never logged: a line holds no config value, and every line also goes through
:func:`cmrules.redact.redact`.  The log rotates by size (``decisions.max_bytes``, keeping
``decisions.keep`` old files), under an ``flock``.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import secrets
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from . import redact
from .errors import ConfigError, UsageError
from .values import iso

KEYS = {"enabled", "path", "max_bytes", "keep", "mask_emails", "dry_runs"}
_EMAIL = re.compile(r"([A-Za-z0-9])[A-Za-z0-9._%+-]*@([A-Za-z0-9.-]+\.[A-Za-z]{2,})")


@dataclass(frozen=True)
class Settings:
    """Config section ``decisions``."""

    enabled: bool = True
    path: Path | None = None  # default: <state dir>/decisions/decisions.jsonl
    max_bytes: int = 50_000_000  # a full sync of ~12,000 records per file
    keep: int = 5
    mask_emails: bool = True
    dry_runs: bool = False

    def log_path(self) -> Path:
        """The decision log file: ``decisions.path``, else ``decisions/decisions.jsonl`` in the
        state directory."""
        if self.path is not None:
            return self.path
        from .paths import state_dir

        return state_dir() / "decisions" / "decisions.jsonl"


def parse_settings(raw: Any, where: Callable[..., str], base: Path) -> Settings:
    """The ``decisions`` config section, validated key by key (an unknown key or a bad value is a
    config error at its line)."""
    if raw is None:
        return Settings()
    if not isinstance(raw, dict):
        raise ConfigError(f"{where('decisions')}: decisions must be a mapping")
    for key in raw:
        if key not in KEYS:
            raise ConfigError(f"{where('decisions', key)}: unknown key decisions.{key}; "
                              f"allowed: {', '.join(sorted(KEYS))}")  # fmt: skip
    for key in ("enabled", "mask_emails", "dry_runs"):
        if key in raw and not isinstance(raw[key], bool):
            raise ConfigError(f"{where('decisions', key)}: decisions.{key} must be true or false")
    for key in ("max_bytes", "keep"):
        value = raw.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                  or value < 1):  # fmt: skip
            raise ConfigError(f"{where('decisions', key)}: decisions.{key} must be a whole "
                              "number of at least 1")  # fmt: skip
    path = raw.get("path")
    defaults = Settings()
    return Settings(
        enabled=raw.get("enabled", True),
        path=(base / os.path.expanduser(str(path))).resolve() if path else None,
        max_bytes=raw.get("max_bytes") or defaults.max_bytes,
        keep=raw.get("keep") or defaults.keep,
        mask_emails=raw.get("mask_emails", True),
        dry_runs=raw.get("dry_runs", False),
    )


# --------------------------------------------------------------------------------------------
# rule sets, content-addressed
# --------------------------------------------------------------------------------------------
def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _canonical(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def _write_once(path: Path, data: bytes) -> None:
    if path.exists():
        return
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # private like the log
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)


def store_ruleset(
    directory: Path,
    contents: Mapping[str, bytes],
    params: Mapping[str, Mapping[str, Any]],
    disabled: Iterable[str],
) -> str:
    """Store the rule files (path -> content) and the manifest of a rule set; return the
    rule-set hash."""
    files = []
    for source, data in sorted(contents.items()):
        digest = _sha(data)
        _write_once(directory / "rules" / f"{digest}.yaml", data)
        files.append({"name": Path(source).name, "sha256": digest})
    manifest = {
        "files": files,
        "params": {rid: dict(v) for rid, v in sorted(params.items())},
        "disabled": sorted(set(disabled)),
    }
    data = _canonical(manifest)
    digest = _sha(data)
    _write_once(directory / "rulesets" / f"{digest}.json", data)
    return digest


def load_ruleset(directory: Path, digest: str) -> Any:
    """The rulebook of a stored rule set (its files written to a private temp folder)."""
    import tempfile

    from .rulebook import configure, load

    path = directory / "rulesets" / f"{digest}.json"
    try:
        manifest = json.loads(path.read_bytes())
    except (OSError, ValueError):
        raise UsageError(
            f"{path}: the rule set {digest[:12]} of this decision is missing or unreadable; "
            "keep the rulesets/ and rules/ folders beside the log"
        ) from None
    with tempfile.TemporaryDirectory(prefix="cmrules-replay-") as tmp:
        paths = []
        for n, f in enumerate(manifest["files"]):
            data = (directory / "rules" / f"{f['sha256']}.yaml").read_bytes()
            if _sha(data) != f["sha256"]:
                raise UsageError(f"{directory}/rules/{f['sha256']}.yaml was altered")
            target = Path(tmp) / f"{n:03d}-{f['name']}"
            target.write_bytes(data)
            paths.append(target)
        rules = load(paths).rules
    return configure(rules, params=manifest["params"], disabled=manifest["disabled"])


# --------------------------------------------------------------------------------------------
# writing
# --------------------------------------------------------------------------------------------
def _mask(text: str) -> str:
    if "@" not in text:  # most labels: no regex pass
        return text
    return _EMAIL.sub(lambda m: f"{m.group(1)}***@{m.group(2)}", text)


def new_id(now: datetime) -> str:
    """A decision id that sorts by time and cannot collide: ``20261126T162156Z-9b4a5bfd``."""
    return f"{now.strftime('%Y%m%dT%H%M%SZ')}-{secrets.token_hex(4)}"


def entry(
    result: Any,
    *,
    as_of: datetime,
    command: str,
    dry_run: bool,
    rule_set: str,
    now: datetime,
    mask: bool,
) -> dict[str, Any]:
    """One log line for a :class:`~cmrules.service.RecordResult`."""
    m = _mask if mask else (lambda s: s)
    inputs = []
    for vendor in result.vendors:
        values = result.signals.get(vendor.id, {})
        inputs.append({
            "subject": result.kind,
            "vendor": {"id": vendor.id, "name": m(vendor.name)},
            "signals": {name: signal_dict(sv, m) for name, sv in sorted(values.items())},
        })  # fmt: skip
    return {
        "decision_id": new_id(now),
        "logged_at": iso(now),
        "command": command,
        "dry_run": dry_run,
        "as_of": iso(as_of),
        "record": {"id": result.subject.id, "name": m(result.subject.name), "kind": result.kind},
        "profile": result.profile,
        "rule_set": rule_set,
        "inputs": inputs,
        "outcomes": outcomes_of(result.findings),
        "fingerprint": result.note.fingerprint,
        "risk_level": result.risk_level,
        "write": result.write,
    }


def signal_dict(sv: Any, mask: Callable[[str], str]) -> dict[str, Any]:
    """A signal value as logged: value, source records, unknown reason, window."""
    out: dict[str, Any] = {
        "value": sv.value,
        "records": [[r.kind, r.id, mask(r.label)] for r in sv.records],
    }
    if sv.reason is not None:
        # the fields not at their default (replay restores those)
        out["reason"] = {k: list(v) if isinstance(v, tuple) else v
                         for k, v in vars(sv.reason).items()
                         if k == "code" or v not in (None, "", ())}  # fmt: skip
    if sv.window_days is not None:
        out["window_days"] = sv.window_days
    return out


def outcomes_of(findings: Iterable[Any]) -> list[dict[str, Any]]:
    """What each rule concluded for a record, sorted by rule and vendor: the part of a decision that
    replay compares."""
    return sorted(
        ({"rule_id": f.rule_id, "vendor_id": f.subject.vendor_id, "status": f.status,
          "severity": f.severity, "fingerprint": f.fingerprint} for f in findings),
        key=lambda o: (o["rule_id"], o["vendor_id"] or ""),
    )  # fmt: skip


def log(
    settings: Settings,
    results: Iterable[Any],
    rulesets: Any,
    *,
    as_of: datetime,
    command: str,
    dry_run: bool,
) -> list[str]:
    """Append one line per result; set ``result.decision_id``; return the ids."""
    if not settings.enabled or (dry_run and not settings.dry_runs):
        return []
    from .paths import private_dir

    path = settings.log_path()
    directory = private_dir(path.parent)  # names and labels of CRM records: 0700
    now = datetime.now(UTC).replace(microsecond=0)
    hashes: dict[str, str] = {}
    lines, ids = [], []
    for r in results:
        if r.profile not in hashes:
            _, disabled = rulesets.settings(r.profile)
            book = rulesets.rulebook(r.profile)
            used = {rid: dict(rule.params) for rid, rule in ((x.id, x) for x in book)}
            hashes[r.profile] = store_ruleset(directory, rulesets.files(), used, disabled)
        e = entry(r, as_of=as_of, command=command, dry_run=dry_run, rule_set=hashes[r.profile],
                  now=now, mask=settings.mask_emails)  # fmt: skip
        r.decision_id = e["decision_id"]
        ids.append(e["decision_id"])
        text = json.dumps(e, ensure_ascii=False, default=str, separators=(",", ":"))
        lines.append(redact.redact(text) + "\n")
    if lines:
        _append(path, [x.encode() for x in lines], settings)
    return ids


def log_run(
    session: Any, results: Iterable[Any], as_of: datetime, command: str, dry_run: bool
) -> None:
    """:func:`log` for a run of ``evaluate`` or ``sync`` (the session's settings and rules)."""
    log(session.config.decisions, results, session.rulesets, as_of=as_of, command=command,
        dry_run=dry_run)  # fmt: skip


def _append(path: Path, lines: list[bytes], settings: Settings) -> None:
    """Append whole lines; a file never grows past ``max_bytes`` (unless one line does):
    a large run spreads over several files."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    lock = os.open(path.with_suffix(".lock"), os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        size = path.stat().st_size if path.exists() else 0
        chunk: list[bytes] = []
        for line in lines:
            if size and size + len(line) > settings.max_bytes:
                _write(path, chunk)
                _rotate(path, settings.keep)
                chunk, size = [], 0
            chunk.append(line)
            size += len(line)
        _write(path, chunk)
    finally:
        os.close(lock)  # releases the flock


def _write(path: Path, lines: list[bytes]) -> None:
    if not lines:
        return
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "ab") as fh:  # writes every byte
        fh.write(b"".join(lines))
        fh.flush()
        os.fsync(fh.fileno())  # on disk like the writes it records: one fsync per chunk


def _rotate(path: Path, keep: int) -> None:
    """decisions.jsonl -> .1 -> .2 … ; the oldest beyond ``keep`` is dropped."""
    oldest = path.with_name(f"{path.name}.{keep}")
    if oldest.exists():
        oldest.unlink()
    for n in range(keep - 1, 0, -1):
        src = path.with_name(f"{path.name}.{n}")
        if src.exists():
            os.replace(src, path.with_name(f"{path.name}.{n + 1}"))
    os.replace(path, path.with_name(f"{path.name}.1"))


# --------------------------------------------------------------------------------------------
# reading
# --------------------------------------------------------------------------------------------
def entries(settings: Settings) -> Iterator[dict[str, Any]]:
    """Every logged decision, newest file first (a torn line is skipped)."""
    path = settings.log_path()
    rotated = sorted(path.parent.glob(f"{path.name}.*"),
                     key=lambda p: int(p.suffix[1:]) if p.suffix[1:].isdigit() else 0)  # fmt: skip
    for f in [path, *rotated]:
        if not f.exists() or not f.suffix[1:].isdigit() and f != path:
            continue
        for line in reversed(f.read_text("utf-8").splitlines()):
            try:
                item = json.loads(line)
            except ValueError:
                continue
            if isinstance(item, dict) and "decision_id" in item:
                yield item


def find(settings: Settings, decision_id: str | None = None, record: str | None = None) -> Any:
    """A decision by id, or the latest one of a record (by id)."""
    for item in entries(settings):
        if decision_id is not None and item["decision_id"] == decision_id:
            return item
        if record is not None and item["record"]["id"] == record:
            return item
    what = f"decision {decision_id}" if decision_id else f"decision for record {record!r}"
    raise UsageError(
        f"no {what} in {settings.log_path()} (or its rotated files); decisions are logged by "
        "evaluate and sync when they write (decisions.dry_runs: true for dry runs)"
    )
