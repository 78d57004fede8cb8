"""Run the ``cmrules`` CLI in a child process whose standard error is a pseudo-terminal (as in
an interactive shell) while standard output is a pipe (as in ``cmrules … > out.json``)."""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass

MAIN = "from cmrules.cli import main; main()"
# a source that takes its time (as a CRM does): the run is still reading when Ctrl-C arrives,
# however loaded the machine (on a fast store the whole run can end before the signal does)
SLOW_MAIN = """
import time
from cmrules.connectors.local.connector import LocalConnector
load = LocalConnector.load
def slow_load(self, *args, **kwargs):
    time.sleep(0.5)
    return load(self, *args, **kwargs)
LocalConnector.load = slow_load
from cmrules.cli import main
main()
"""


@dataclass
class Ran:
    """What the child wrote: standard output (the pipe), standard error (the terminal)."""

    code: int
    out: str
    err: str


def run(*args: str, tty: bool = True, timeout: float = 120, interrupt_on: str = "") -> Ran:
    """``cmrules *args`` with standard error on a pseudo-terminal (``tty``) or a pipe;
    ``interrupt_on``: press Ctrl-C (SIGINT) as soon as the terminal shows this text (the
    local store then reads slowly, see ``SLOW_MAIN``)."""
    master, slave = pty.openpty() if tty else (None, None)
    proc = subprocess.Popen(
        [sys.executable, "-c", SLOW_MAIN if interrupt_on else MAIN, *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=slave if tty else subprocess.PIPE,
        env={**os.environ, "COLUMNS": "200"},
    )
    if slave is not None:
        os.close(slave)
    chunks: list[bytes] = []  # standard output, drained beside the terminal: a pipe fills up
    drain = threading.Thread(target=lambda: chunks.append(proc.stdout.read()))  # type: ignore[union-attr]
    drain.start()
    err = b""
    if master is not None:
        while True:  # read the terminal as the child writes: its buffer is small
            ready, _, _ = select.select([master], [], [], timeout)
            if not ready:
                proc.kill()
                raise TimeoutError(f"cmrules {' '.join(args)} wrote nothing for {timeout} s")
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            err += chunk
            if interrupt_on and interrupt_on.encode() in err:
                proc.send_signal(signal.SIGINT)
                interrupt_on = ""
        os.close(master)
    if proc.stderr is not None:
        err += proc.stderr.read()
    drain.join(timeout)
    proc.wait(timeout)
    out = b"".join(chunks).decode("utf-8")
    return Ran(proc.returncode, out, err.decode("utf-8").replace("\r\n", "\n"))


def screen(err: str) -> str:
    """What a terminal shows at the end: each row as its last ``\\r`` left it."""
    return "\n".join(row.split("\r")[-1].rstrip() for row in err.split("\n"))
