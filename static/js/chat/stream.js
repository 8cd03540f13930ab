// The tab's one live stream (Server-Sent Events from the room's /stream, rooms/streams.py): the
// room's messages and deletions as they happen, merged like a poll's answer. While it is healthy
// the poller holds its polls. EventSource reconnects by itself after a dropped connection, sending
// the last event's id (the signed watermark and the refs held) as Last-Event-ID, and the server
// resumes from it: nothing lost or doubled. Refused (EventSource closes: the 204 of a server that
// serves no streams, an error status, a proxy) or silent for two heartbeats (a proxy buffering it),
// the stream is closed and the polls run; it is tried again later and used again if it works.
// docs/live-updates.md, "The browser", describes it.

import { parseHtml } from "./merge.js";

const MAX_RETRY_MS = 30 * 60 * 1000;
const PAUSED = "Live updates paused: can't reach the server. Retrying…"; // the poller's words (backoff.js)

// ``merge(doc)`` merges a parsed fragment as for a poll; ``recovered()`` says live updates work
// again (clears the poller's failure status).
export function createStream(live, cursor, { merge, setStatus, recovered }) {
  const url = live.dataset.streamUrl;
  const heartbeatMs = Number(live.dataset.heartbeatMs) || 15000;
  const patienceMs = 2 * heartbeatMs; // the server sends something at least every heartbeat
  const retryMs = 8 * heartbeatMs; // back on polls: the next try (2 minutes at 15 s heartbeats)
  // Other modules' events (presence, typing) reach them as "chat:live" on the document; their
  // names come from the page, since EventSource has no catch-all for named events.
  const signalNames = (live.dataset.streamEvents || "").split(/\s+/).filter(Boolean);

  let source = null;
  let holding = false; // polls are held while this is true
  let proven = false; // this connection delivered an event: it is not being buffered
  let failures = 0;
  let watchdog = 0;
  let retryTimer = 0;
  let saidPaused = false;

  function quiet() {
    if (saidPaused) {
      saidPaused = false;
      setStatus("");
    }
  }

  function close() {
    clearTimeout(watchdog);
    if (source) source.close();
    source = null;
    holding = false;
  }

  // Refused or buffered: the polls take over, and the stream is tried again later (less often
  // each time it fails, up to every 30 minutes).
  function fallBack() {
    close();
    quiet(); // from here the poller reports failures itself
    failures += 1;
    clearTimeout(retryTimer);
    retryTimer = setTimeout(() => open(false), Math.min(MAX_RETRY_MS, retryMs * Math.pow(2, failures - 1)));
  }

  function silent() {
    // A connection that had delivered events and then went quiet is dead (a lid closed, a proxy
    // dropped it without a word): a fresh one is opened at once. One that never delivered
    // anything is most likely buffered: polls.
    if (proven) open(true);
    else fallBack();
  }

  function alive() {
    clearTimeout(watchdog);
    watchdog = setTimeout(silent, patienceMs);
  }

  function delivered(event) {
    alive();
    quiet();
    if (!proven) {
      proven = true;
      failures = 0;
      recovered();
    }
    holding = true;
    // The id is "<signed watermark> <ref,ref,…>"; the page's own refs come from its DOM.
    if (event.lastEventId) cursor.setWatermark(event.lastEventId.split(" ")[0]);
  }

  // ``trusted``: polls are held from the start (the page's first try, or a connection that just
  // died). A later try from polls must first deliver an event: polls run meanwhile.
  function open(trusted) {
    close();
    clearTimeout(retryTimer);
    const parameters = {};
    cursor.addTo(parameters);
    const query = new URLSearchParams({ w: parameters.w, seen: parameters.seen });
    source = new EventSource(url + "?" + query.toString());
    holding = trusted;
    proven = false;
    alive();
    source.addEventListener("open", () => {
      alive();
      quiet();
    });
    source.addEventListener("error", () => {
      if (!source) return;
      if (source.readyState === EventSource.CLOSED) fallBack(); // refused: will not reconnect
      else if (holding && !saidPaused) { // reconnecting by itself, with Last-Event-ID
        saidPaused = true;
        setStatus(PAUSED);
      }
    });
    source.addEventListener("updates", (event) => {
      delivered(event);
      merge(parseHtml(event.data));
    });
    source.addEventListener("beat", delivered);
    // The server can't read new events (DynamoDB slow or down): say so, as the poller would.
    source.addEventListener("status", (event) => {
      alive();
      if (event.data === "stalled") {
        saidPaused = true;
        setStatus(PAUSED);
      } else quiet();
    });
    source.addEventListener("reload", () => { // too far behind, or access ended: a fresh page
      close();
      window.location.reload();
    });
    signalNames.forEach((name) => {
      source.addEventListener(name, (event) => {
        alive();
        document.dispatchEvent(new CustomEvent("chat:live", { detail: { name, data: event.data } }));
      });
    });
  }

  return {
    start() {
      if (url && window.EventSource) open(true);
    },
    holding() {
      return holding;
    },
  };
}
