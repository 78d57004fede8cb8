"""Progress of a long run: events from the library, one status line on a terminal.

The library never prints progress.  Code that works through many things (rows of an import,
pages of an API, companies evaluated, records written back) reports :class:`Event` values to an
``on_progress`` callback through a :class:`Counter`; without a callback a counter costs one
comparison per step.  The CLI hands the callback a :class:`StatusLine` when standard error is
a terminal and ``--quiet`` was not given (:func:`wanted`); nothing ever goes to standard
output.

The status line is one line of text rewritten in place with ``\\r`` (no cursor codes, so a
plain terminal shows it too), redrawn at most ten times a second, cut to the terminal's
width, and erased when the run ends or is interrupted (:meth:`StatusLine.close`, called from a
``with`` block).  Its words follow the run's language::

    reading companies: 1,200/20,000 (6%) · 41/s · ETA 7 min 39 s
    lecture des entreprises : 1 200/20 000 (6 %) · 41/s · reste 7 min 39 s
    reading activities: 14 pages · 2.3/s            (no total known: a count and a rate)

The ETA is the remaining count divided by the rate over the last :data:`WINDOW` seconds
(:class:`Rate`), so a phase that speeds up or slows down is followed within half a minute;
it is shown once a phase has run :data:`SETTLE` seconds.
"""

from __future__ import annotations

import shutil
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO

from . import text as tx
from .labels import Words

W = Words
#: what a run is doing, as the status line names it
PHASES: dict[str, Words] = {
    "parse": W("lecture du fichier", "reading the file"),
    "import": W("import", "importing"),
    "changes": W("recherche des changements", "looking for changes"),
    "vendors": W("lecture des agences", "reading vendors"),
    "companies": W("lecture des entreprises", "reading companies"),
    "contacts": W("lecture des contacts", "reading contacts"),
    "activities": W("lecture des activités", "reading activities"),
    "engagements": W("lecture des liens agence-client", "reading engagements"),
    "deals": W("lecture des transactions", "reading deals"),
    "notes": W("lecture des notes", "reading notes"),
    "portfolio": W("lecture du portefeuille", "reading the portfolio"),
    "evaluate": W("évaluation", "evaluating"),
    "write": W("écriture", "writing back"),
    "tasks": W("tâches", "tasks"),
}
#: what is counted: singular and plural
UNITS: dict[str, tuple[Words, Words]] = {
    "rows": (W("ligne", "row"), W("lignes", "rows")),
    "records": (W("fiche", "record"), W("fiches", "records")),
    "companies": (W("entreprise", "company"), W("entreprises", "companies")),
    "pages": (W("page", "page"), W("pages", "pages")),
    "calls": (W("appel", "call"), W("appels", "calls")),
    "tasks": (W("tâche", "task"), W("tâches", "tasks")),
    "bytes": (W("octet", "byte"), W("octets", "bytes")),
}
INTERVAL = 0.1  # seconds between two redraws at most (ten a second)
WINDOW = 30.0  # seconds of history the rate is measured over
SETTLE = 2.0  # seconds a phase runs before an ETA is shown (the first chunk is slower)
CLOCK: Callable[[], float] = time.monotonic  # the status line's default clock


@dataclass(frozen=True)
class Event:
    """``done`` of ``total`` (``None``: not known) ``unit`` in ``phase``; ``finished`` when the
    phase is over."""

    phase: str
    done: int
    total: int | None = None
    unit: str = "records"
    finished: bool = False


OnProgress = Callable[[Event], None]


class Counter:
    """Counts one phase and reports it.  ``every``: report at most once per that many steps
    (a per-row counter in a tight loop); the callback throttles redraws itself.  ``start``:
    report the phase at once (``False``: at its first step, for a phase that begins later)."""

    __slots__ = ("_emit", "phase", "unit", "total", "done", "_every", "_next")

    def __init__(
        self,
        emit: OnProgress | None,
        phase: str,
        unit: str = "records",
        total: int | None = None,
        every: int = 1,
        start: bool = True,
    ):
        self._emit, self.phase, self.unit, self.total = emit, phase, unit, total
        self.done = 0
        self._every = max(1, every)
        self._next = -1 if emit is None else self._every if start else 0  # -1: never report
        if emit is not None and start:
            emit(Event(phase, 0, total, unit))

    def add(self, n: int = 1) -> None:
        """``n`` more done."""
        self.done += n
        if 0 <= self._next <= self.done:
            self._next = self.done + self._every
            self._emit(Event(self.phase, self.done, self.total, self.unit))  # type: ignore[misc]

    def update(self, done: int, total: int | None = None) -> None:
        """Set the count (and the total, once known)."""
        if total is not None:
            self.total = total
        self.add(done - self.done)

    def finish(self) -> None:
        """The phase is over."""
        if self._emit is not None:
            self._emit(Event(self.phase, self.done, self.total, self.unit, finished=True))
            self._next = -1


@contextmanager
def phase(
    emit: OnProgress | None,
    name: str,
    unit: str = "records",
    total: int | None = None,
    every: int = 1,
) -> Iterator[Counter]:
    """A :class:`Counter` for a ``with`` block: the phase finishes when the block ends."""
    counter = Counter(emit, name, unit, total, every)
    try:
        yield counter
    finally:
        counter.finish()


class Rate:
    """Items per second over the last ``window`` seconds, from ``(time, done)`` samples."""

    def __init__(self, window: float = WINDOW):
        self.window = window
        self.samples: deque[tuple[float, int]] = deque()

    def add(self, now: float, done: int) -> None:
        """Note that ``done`` items were done at ``now``."""
        self.samples.append((now, done))
        while len(self.samples) > 2 and now - self.samples[1][0] >= self.window:
            self.samples.popleft()  # keep one sample at least ``window`` old

    def per_second(self) -> float | None:
        """The rate, or ``None`` before two samples apart in time."""
        if len(self.samples) < 2:
            return None
        (t0, d0), (t1, d1) = self.samples[0], self.samples[-1]
        return (d1 - d0) / (t1 - t0) if t1 > t0 else None


def eta(done: int, total: int | None, rate: float | None) -> float | None:
    """Seconds left at ``rate``; ``None`` when the total or a positive rate is unknown."""
    if total is None or not rate or rate <= 0:
        return None
    return max(0, total - done) / rate


def duration(seconds: float) -> str:
    """``8 s``, ``7 min 28 s``, ``2 h 05 min`` (the same in French and English)."""
    s = round(seconds)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


def quantity(n: int, language: str) -> str:
    """``20,000`` / ``20 000`` (a narrow no-break space in French)."""
    text = f"{n:,}"
    return text.replace(",", tx.NNBSP) if language == "fr" else text


def _size(n: int, language: str) -> str:
    return tx.number(round(n / 1e6, 1), language) + " MB" if n >= 1e6 else f"{n // 1000} kB"


def describe(
    event: Event, language: str, rate: float | None, elapsed: float, settle: float = SETTLE
) -> str:
    """The status line for ``event`` (without cutting it to the terminal's width)."""
    label = PHASES.get(event.phase, W(event.phase, event.phase))[language]
    one, other = UNITS.get(event.unit, (W(event.unit, event.unit),) * 2)
    if event.total is None and not event.done:
        return label + "…"  # started, nothing counted yet (or nothing to count)
    if event.unit == "bytes":
        count = _size(event.done, language)
        if event.total is not None:
            count += "/" + _size(event.total, language)
    elif event.total is not None:
        count = f"{quantity(event.done, language)}/{quantity(event.total, language)}"
    else:
        noun = tx.plural(event.done, one[language], other[language], language)
        count = f"{quantity(event.done, language)} {noun}"
    parts = [f"{label}: {count}"]
    if event.total:
        parts[0] += f" ({tx.percent(min(1.0, event.done / event.total), language)})"
    if rate is not None and event.unit != "bytes":
        parts.append(f"{tx.number(round(rate, 1 if rate < 10 else 0), language)}/s")
    elif rate is not None:
        parts.append(f"{_size(int(rate), language)}/s")
    left = eta(event.done, event.total, rate) if elapsed >= settle else None
    if left is not None:
        parts.append(("reste " if language == "fr" else "ETA ") + duration(left))
    return tx.typography(" · ".join(parts), language)


class StatusLine:
    """An ``on_progress`` callback drawing one status line on ``stream`` (standard error).

    ``clock``: seconds, monotonic (tests pass a fake one); ``width``: the line's width (default:
    the terminal's).  Use it in a ``with`` block so the line is erased however the run ends."""

    def __init__(
        self,
        stream: IO[str],
        language: str,
        *,
        clock: Callable[[], float] | None = None,
        interval: float = INTERVAL,
        width: int | None = None,
    ):
        self.stream, self.language, self.interval = stream, language, interval
        self.clock = clock or CLOCK
        self.width = width
        self._phases: dict[str, tuple[float, Rate]] = {}  # running phases: start, rate
        self._drawn = 0  # characters on screen now
        self._last = float("-inf")  # when the line was last drawn
        self._held = False  # standard output left a partial line: draw nothing until it ends

    def __call__(self, event: Event) -> None:
        now = self.clock()
        if event.finished:
            # the next phase's line replaces this one; erasing here would flicker between
            # short phases (one page each)
            self._phases.pop(event.phase, None)
            return
        starts = event.done == 0 or event.phase not in self._phases
        if starts:  # a phase (re)starts: named at once, however short it turns out to be
            self._phases[event.phase] = (now, Rate())
            self._phases[event.phase][1].add(now, event.done)
        elif now - self._last < self.interval:
            return
        self._last = now
        started, rate = self._phases[event.phase]
        rate.add(now, event.done)  # a sample per redraw at most: bounded memory
        if self._held:
            return
        line = describe(event, self.language, rate.per_second(), now - started)
        width = self.width or shutil.get_terminal_size((80, 24)).columns
        line = line[: max(10, width - 1)]  # never wrap: ``\r`` only returns within one row
        text = "\r" + line.ljust(self._drawn)
        self._drawn = max(self._drawn, len(line))  # first: a Ctrl-C mid-write still erases it
        self.stream.write(text)
        self.stream.flush()
        self._drawn = len(line)

    def clear(self) -> None:
        """Erase the line (before other output, and at the end)."""
        if self._drawn:
            self.stream.write("\r" + " " * self._drawn + "\r")
            self.stream.flush()
            self._drawn = 0  # last: interrupted before, the line is erased again on close
            self._last = float("-inf")  # the next event redraws at once

    def output(self, write: Callable[[str], None]) -> Callable[[str], None]:
        """``write`` (to standard output, on the same terminal) made to erase the line first;
        after text that does not end a line, the status waits for one that does."""

        def out(text: str) -> None:
            self.clear()
            write(text)
            if text:
                self._held = not text.endswith("\n")

        return out

    def close(self) -> None:
        """Erase the line."""
        self.clear()

    def __enter__(self) -> StatusLine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def wanted(stream: IO[str], quiet: bool) -> bool:
    """Whether to show progress on ``stream``: a terminal, and ``--quiet`` not given."""
    isatty = getattr(stream, "isatty", None)
    return not quiet and callable(isatty) and bool(isatty())
