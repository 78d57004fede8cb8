"""The progress reporter: counts, rate and ETA arithmetic on an injected clock, throttled
redraws, French and English words, and the line erased at the end.  No timed assertion: the
clock is a list of instants the test sets."""

from __future__ import annotations

import io

import pytest

from cmrules import progress as pg
from cmrules.progress import Counter, Event, Rate, StatusLine, describe, eta, phase


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def status(lang: str = "en", width: int = 200) -> tuple[StatusLine, io.StringIO, Clock]:
    clock = Clock()
    out = io.StringIO()
    return StatusLine(out, lang, clock=clock, width=width), out, clock


def last_line(out: io.StringIO) -> str:
    """What the terminal shows now: the text after the last carriage return."""
    return out.getvalue().split("\r")[-1].rstrip()


# -- ETA arithmetic --------------------------------------------------------------------------
def test_eta_is_the_remaining_count_over_the_rate():
    assert eta(200, 1000, 10.0) == 80.0  # 800 left at 10/s
    assert eta(1000, 1000, 10.0) == 0.0
    assert eta(1200, 1000, 10.0) == 0.0  # a total passed (records added meanwhile): not negative


def test_no_eta_without_a_total_or_a_rate():
    assert eta(5, None, 3.0) is None  # pages of an unknown count
    assert eta(0, 100, None) is None  # one sample: no rate yet
    assert eta(0, 100, 0.0) is None  # stalled: no finite estimate


def test_rate_over_a_sliding_window_follows_a_slowdown():
    rate = Rate(window=30)
    for t in range(0, 31, 10):  # 100 items a second for 30 s
        rate.add(float(t), t * 100)
    assert rate.per_second() == pytest.approx(100)
    for t in range(40, 91, 10):  # then 10 a second for a minute
        rate.add(float(t), 3000 + (t - 30) * 10)
    # only the last 30 s count: the early fast part no longer inflates the estimate
    assert rate.per_second() == pytest.approx(10)


def test_rate_needs_two_samples_apart_in_time():
    rate = Rate()
    assert rate.per_second() is None
    rate.add(1.0, 5)
    assert rate.per_second() is None
    rate.add(1.0, 9)
    assert rate.per_second() is None


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(8.4, "8 s"), (448, "7 min 28 s"), (7500, "2 h 05 min"), (59.6, "1 min 00 s")],
)
def test_durations(seconds, text):
    assert pg.duration(seconds) == text


# -- the words -------------------------------------------------------------------------------
def test_line_in_english_with_counts_rate_and_eta():
    # 18,800 left at 41 a second: 458.5 s
    line = describe(Event("companies", 1200, 20000, "companies"), "en", 41.0, elapsed=30)
    assert line == "reading companies: 1,200/20,000 (6%) · 41/s · ETA 7 min 39 s"


def test_line_in_french_with_french_numbers_and_typography():
    line = describe(Event("companies", 1200, 20000, "companies"), "fr", 41.0, elapsed=30)
    n = "\u202f"
    assert line == f"lecture des entreprises{n}: 1{n}200/20{n}000 (6{n}%) · 41/s · reste 7 min 39 s"


def test_unknown_total_shows_a_count_and_a_rate_and_no_eta():
    line = describe(Event("activities", 14, None, "pages"), "en", 2.3, elapsed=6)
    assert line == "reading activities: 14 pages · 2.3/s"
    one = describe(Event("activities", 1, None, "pages"), "fr", 0.5, elapsed=6)
    assert one == "lecture des activités\u202f: 1 page · 0,5/s"


def test_no_eta_before_the_phase_settles():
    # the first second's rate says little (connection set-up, first page): no ETA yet
    line = describe(Event("write", 3, 500, "records"), "en", 30.0, elapsed=0.5)
    assert line == "writing back: 3/500 (1%) · 30/s"


def test_bytes_are_shown_in_megabytes():
    line = describe(Event("parse", 12_400_000, 51_000_000, "bytes"), "en", 10_000_000, 2)
    assert line == "reading the file: 12.4 MB/51 MB (24%) · 10 MB/s · ETA 4 s"


# -- the status line -------------------------------------------------------------------------
def test_status_line_counts_and_estimates_on_the_injected_clock():
    line, out, clock = status()
    counter = Counter(line, "evaluate", "companies", total=1000)
    for _ in range(10):
        clock.now += 1.0
        counter.add(50)  # 50 companies a second
    assert last_line(out) == "evaluating: 500/1,000 (50%) · 50/s · ETA 10 s"


def test_redraws_are_throttled_to_ten_a_second():
    line, out, clock = status()
    counter = Counter(line, "write", "records", total=10_000)
    for _ in range(1000):  # a thousand records within 0.05 s of the first one
        clock.now += 0.00005
        counter.add()
    assert out.getvalue().count("\r") == 1  # drawn once (the phase's start)
    clock.now += 0.1
    counter.add()
    assert out.getvalue().count("\r") == 2
    assert last_line(out).startswith("writing back: 1,001/10,000")


def test_the_next_phase_replaces_the_line_and_close_erases_it():
    line, out, clock = status()
    with line:
        with phase(line, "changes", "pages") as pages:
            clock.now += 1
            pages.add(12)
        assert last_line(out).startswith("looking for changes: 12 pages")
        with phase(line, "write", "records", total=2) as written:
            clock.now += 1
            written.add()
            assert last_line(out) == "writing back: 1/2 (50%) · 1/s"  # no ETA in the first 2 s
    assert last_line(out) == ""


def test_a_phase_without_counts_names_what_is_being_done():
    line, out, clock = status("fr")
    Counter(line, "changes", "")
    assert last_line(out) == "recherche des changements…"


def test_interleaved_phases_keep_their_own_rate():
    line, out, clock = status()
    tickets, metrics = Counter(line, "activities", "pages"), Counter(line, "notes", "pages")
    for _ in range(10):  # a page of tickets every second, a page of metrics every 5 s
        clock.now += 0.5
        tickets.add()
        clock.now += 0.5
        if clock.now % 5 == 0:
            metrics.add()
    clock.now += 0.5
    tickets.add()
    assert last_line(out) == "reading activities: 11 pages · 1/s"


def test_close_erases_the_line_even_when_the_run_is_interrupted():
    line, out, clock = status()
    with pytest.raises(KeyboardInterrupt), line:
        counter = Counter(line, "evaluate", "companies", total=10)
        clock.now += 1
        counter.add(3)
        assert "evaluating: 3/10" in out.getvalue()
        raise KeyboardInterrupt
    assert last_line(out) == ""
    assert out.getvalue().endswith("\r")  # the cursor is back at the start of a clean row


def test_the_line_is_cut_to_the_terminal_width():
    line, out, clock = status(width=30)
    counter = Counter(line, "companies", "companies", total=123_456)
    clock.now += 1
    counter.add(1000)
    assert len(last_line(out)) == 29  # never wraps onto a second row


def test_a_shorter_line_blanks_the_end_of_the_longer_one():
    line, out, clock = status()
    counter = Counter(line, "activities", "pages")
    clock.now += 1
    counter.add(1)
    first = out.getvalue().split("\r")[-1]
    clock.now += 1
    line(Event("activities", 2, None, "pages"))
    assert len(out.getvalue().split("\r")[-1]) >= len(first)  # padded: no leftover letters


def test_standard_output_on_the_same_terminal_erases_the_line_first():
    line, err, clock = status()
    shown: list[str] = []
    write = line.output(lambda text: shown.append(err.getvalue()))
    counter = Counter(line, "evaluate", "companies", total=10)
    clock.now += 1
    counter.add()
    write('{"id": "c1"}\n')
    assert shown[0].endswith("\r")  # erased before the record was written
    clock.now += 1
    counter.add()
    assert last_line(err).startswith("evaluating: 2/10")  # drawn again below the record


def test_a_partial_output_line_holds_the_status_until_it_ends():
    line, err, clock = status()
    write = line.output(lambda text: None)
    counter = Counter(line, "evaluate", "companies", total=10)
    write('{"records": [')  # no newline: drawing now would land in the middle of it
    drawn = err.getvalue()
    clock.now += 1
    counter.add()
    assert err.getvalue() == drawn
    write("\n")
    clock.now += 1
    counter.add()
    assert last_line(err).startswith("evaluating: 2/10")


def test_counter_reports_at_most_once_per_every_steps():
    events: list[Event] = []
    counter = Counter(events.append, "import", "rows", total=10_000, every=1000)
    for _ in range(10_000):
        counter.add()
    counter.finish()
    assert [e.done for e in events] == [0, *range(1000, 10_001, 1000), 10_000]
    assert events[-1].finished


def test_counter_without_a_callback_reports_nothing():
    counter = Counter(None, "import", "rows")
    counter.add(5)
    counter.finish()
    assert counter.done == 5


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_is_wanted_on_a_terminal_unless_quiet():
    assert pg.wanted(Tty(), quiet=False)
    assert not pg.wanted(Tty(), quiet=True)
    assert not pg.wanted(io.StringIO(), quiet=False)  # a pipe, a log file, cron
