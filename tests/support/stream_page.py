"""Watching a room page's live delivery in Chromium: which requests it makes (polls to /updates,
streams to /stream) and what its EventSource receives (wrapped by an init script, which the
page's CSP does not apply to: Playwright injects it through the DevTools protocol)."""

from __future__ import annotations

import re
import time

from tests.support.web import comments

RECORD_EVENTSOURCE = """
(() => {
  const Original = window.EventSource;
  if (!Original) return;
  window.__sse = [];
  window.EventSource = class extends Original {
    constructor(url, init) {
      super(url, init);
      const log = (entry) => window.__sse.push(Object.assign({ at: Date.now() }, entry));
      log({ type: "new", url: String(url) });
      this.addEventListener("open", () => log({ type: "open" }));
      this.addEventListener("error", () => log({ type: "error", state: this.readyState }));
      ["updates", "beat", "reload"].forEach((name) => {
        this.addEventListener(name, (event) => log({ type: name, data: event.data, id: event.lastEventId }));
      });
    }
  };
})();
"""


class Watched:
    """A page whose live-delivery requests and stream events are recorded."""

    def __init__(self, page):
        self.page = page
        self.requests: list[str] = []
        page.add_init_script(RECORD_EVENTSOURCE)
        page.on("request", lambda request: self.requests.append(request.url))

    def polls(self) -> int:
        return sum(1 for url in self.requests if re.search(r"/rooms/[^/]+/updates\?", url))

    def streams(self) -> int:
        return sum(1 for url in self.requests if re.search(r"/rooms/[^/]+/stream\?", url))

    def events(self, kind: str | None = None) -> list[dict]:
        events = self.page.evaluate("window.__sse || []")
        return [e for e in events if kind is None or e["type"] == kind]

    def streamed_comments(self) -> list[str]:
        """Every message text the stream delivered, once per delivery (a doubled one shows twice)."""
        return [text for event in self.events("updates") for text in comments(event["data"])]

    def wait_for_event(self, kind: str, count: int = 1, timeout: float = 10) -> None:
        # Polled from here: wait_for_function's string predicates need eval, which the CSP forbids.
        deadline = time.monotonic() + timeout
        while len(self.events(kind)) < count:
            assert time.monotonic() < deadline, f"no {kind!r} event #{count} within {timeout} s: {self.events()}"
            self.page.wait_for_timeout(100)

    def shown(self) -> list[str]:
        return self.page.locator("#messages li.message .comment").all_inner_texts()
