"""Where cmrules keeps its files: ``$CMRULES_HOME`` if set, else the XDG base directories.

* data (the local database): ``$CMRULES_HOME``, else ``$XDG_DATA_HOME/cmrules``, else
  ``~/.local/share/cmrules``;
* state (sync watermarks, locks, the error log): ``$CMRULES_HOME``, else
  ``$XDG_STATE_HOME/cmrules``, else ``~/.local/state/cmrules``;
* config: ``$XDG_CONFIG_HOME/cmrules/config.yaml``, else ``~/.config/cmrules/config.yaml``.

Directories cmrules creates are private (0700): the database holds contact e-mails and notes.
"""

from __future__ import annotations

import os
from pathlib import Path


def _xdg(var: str, default: str) -> Path:
    value = os.environ.get(var)
    # the XDG spec: a relative path is invalid and must be ignored
    if value and os.path.isabs(value):
        return Path(value)
    return Path.home() / default


def data_dir() -> Path:
    """Where cmrules keeps its data: $CMRULES_HOME, else $XDG_DATA_HOME/cmrules."""
    home = os.environ.get("CMRULES_HOME")
    return Path(home) if home else _xdg("XDG_DATA_HOME", ".local/share") / "cmrules"


def state_dir() -> Path:
    """Where cmrules keeps run state: $CMRULES_HOME, else $XDG_STATE_HOME/cmrules."""
    home = os.environ.get("CMRULES_HOME")
    return Path(home) if home else _xdg("XDG_STATE_HOME", ".local/state") / "cmrules"


def user_config_file() -> Path:
    """The per-user config file ($XDG_CONFIG_HOME/cmrules/config.yaml)."""
    return _xdg("XDG_CONFIG_HOME", ".config") / "cmrules" / "config.yaml"


def private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) if needed; a directory cmrules creates is 0700."""
    if not path.is_dir():
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path
