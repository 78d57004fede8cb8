"""Sync state (watermark) and the single-run lock.

The state file is written atomically (temp file + rename), so a run killed at any line leaves
either the old or the new state — never a torn file.  The lock is an ``flock`` on a sibling
``.lock`` file: the kernel releases it when the process dies, so a crash never leaves a stale
lock behind.
"""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from .errors import ConfigError, LockedError
from .paths import private_dir
from .values import iso, parse_datetime


def read_state(path: Path) -> dict[str, Any]:
    """The sync state the last successful run saved ({} when none); unreadable: an error."""
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(
            f"{path}: the sync state file is unreadable ({exc.__class__.__name__}); delete it "
            "and run 'cmrules sync --full'"
        ) from None
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path}: the sync state file is not a JSON object; delete it and "
            "run 'cmrules sync --full'"
        )
    return data


def watermark(state: dict[str, Any]) -> datetime | None:
    """The state's watermark, or None (a full run)."""
    try:
        return parse_datetime(state.get("watermark"))
    except ValueError:
        return None


def atomic_write(
    path: Path, data: bytes, *, prefix: str = ".tmp-", mode: int | None = None
) -> None:
    """Replace ``path`` with ``data`` atomically (temp file in the same folder, fsync, rename):
    a run killed at any line leaves the old file or the new one, never a torn one."""
    fd, tmp = tempfile.mkstemp(prefix=prefix, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_state(path: Path, state: dict[str, Any]) -> None:
    """Save the state atomically in a private directory."""
    private_dir(path.parent)
    text = json.dumps(state, indent=2, sort_keys=True, default=str)
    atomic_write(path, text.encode("utf-8"), prefix=".state-")


def save_watermark(path: Path, state: dict[str, Any], mark: datetime, **extra: Any) -> None:
    """Save a new watermark (and ``extra`` keys) over the state."""
    new = dict(state, watermark=iso(mark), **extra)
    write_state(path, new)


@contextmanager
def run_lock(state_path: Path) -> Iterator[Path]:
    """Hold an exclusive lock for the run, or raise :class:`LockedError` at once."""
    lock_path = state_path.with_name(state_path.name + ".lock")
    try:
        private_dir(lock_path.parent)
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        fh = os.fdopen(fd, "a+")  # held for the whole run
    except OSError as exc:
        raise ConfigError(
            f"{lock_path}: cannot create the lock file ({exc.strerror}); set "
            "state.path to a writable location"
        ) from None
    try:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "another process"
            raise LockedError(
                f"another cmrules sync is running on this state ({holder}, lock {lock_path}); "
                "wait for it to finish — never run two at once"
            ) from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()}")
        fh.flush()
        yield lock_path
    finally:
        fh.close()
