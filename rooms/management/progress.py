"""A small text progress bar for management commands, written to stderr so stdout stays data."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class ProgressBar:
    def __init__(self, label: str, total: int | None = None, *, stream: TextIO | None = None, width: int = 30):
        self.label = label
        self.total = total
        self.done = 0
        self.stream = stream or sys.stderr
        self.width = width
        self._last_draw = 0.0
        # Django's OutputWrapper (self.stderr in a command) adds a newline unless told not to.
        self._write = (lambda text: self.stream.write(text, ending="")) if hasattr(self.stream, "ending") \
            else self.stream.write

    def __call__(self, n: int = 1) -> None:
        self.advance(n)

    def advance(self, n: int = 1) -> None:
        self.done += n
        now = time.monotonic()
        if now - self._last_draw >= 0.1 or (self.total is not None and self.done >= self.total):
            self._draw()
            self._last_draw = now

    def _draw(self) -> None:
        if self.total:
            filled = min(self.width, self.width * self.done // self.total)
            bar = "#" * filled + "-" * (self.width - filled)
            self._write(f"\r{self.label} [{bar}] {self.done}/{self.total}")
        else:
            self._write(f"\r{self.label} {self.done}")
        self.stream.flush()

    def finish(self) -> None:
        self._draw()
        self._write("\n")
        self.stream.flush()
