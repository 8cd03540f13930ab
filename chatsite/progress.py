"""One progress bar for management commands and the benchmark, written to stderr so stdout stays
data; and the context a command runs its bulk writes in."""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from typing import Iterator, TextIO

from django.core.management.base import CommandError

from chatsite.batch import UnprocessedItemsRemain


class ProgressBar:
    """One line, redrawn at most every ``interval`` seconds and at the end. Safe to advance from
    several threads (the benchmark writes the big room from four)."""

    def __init__(self, label: str, total: int | None = None, *, stream: TextIO | None = None, width: int = 30,
                 interval: float = 0.1):
        self.label = label
        self.total = total
        self.done = 0
        self.stream = stream or sys.stderr
        self.width = width
        self.interval = interval
        self._started = self._last_draw = time.monotonic()
        self._lock = threading.Lock()
        # Django's OutputWrapper (self.stderr in a command) adds a newline unless told not to.
        self._write = (lambda text: self.stream.write(text, ending="")) if hasattr(self.stream, "ending") \
            else self.stream.write

    def __call__(self, n: int = 1) -> None:
        self.advance(n)

    def advance(self, n: int = 1) -> None:
        with self._lock:
            self.done += n
            now = time.monotonic()
            if now - self._last_draw >= self.interval or (self.total is not None and self.done >= self.total):
                self._draw(now)
                self._last_draw = now

    def _draw(self, now: float) -> None:
        rate = self.done / max(now - self._started, 1e-9)
        if self.total:
            filled = min(self.width, self.width * self.done // self.total)
            bar = "#" * filled + "-" * (self.width - filled)
            eta = (self.total - self.done) / rate if rate else 0
            counts = f"{self.done:,}/{self.total:,} {rate:,.0f}/s, eta {eta:,.0f} s"
            self._write(f"\r{self.label} [{bar}] {counts} ")
        else:
            self._write(f"\r{self.label} {self.done:,} {rate:,.0f}/s ")
        self.stream.flush()

    def finish(self) -> None:
        with self._lock:
            self._draw(time.monotonic())
            self._write("\n")
            self.stream.flush()


@contextlib.contextmanager
def command_progress(label: str, total: int | None = None, *, stream: TextIO) -> Iterator[ProgressBar]:
    """A management command's progress bar on ``stream`` (its stderr), finished however the work
    ends; bulk writes DynamoDB kept refusing (UnprocessedItemsRemain) become the command's error."""
    bar = ProgressBar(label, total, stream=stream)
    try:
        yield bar
    except UnprocessedItemsRemain as exc:
        raise CommandError(str(exc)) from None
    finally:
        bar.finish()
