// Polling after a failure: pause with exponential backoff (2 s up to 30 s), at least as long as
// a 429's Retry-After; a 400 (the server no longer accepts this page's cursor) stops for good.

export function createBackoff(setStatus) {
  let failures = 0;
  let pausedUntil = 0;

  return {
    paused() {
      return Date.now() < pausedUntil;
    },
    succeeded() {
      if (failures) {
        failures = 0;
        setStatus("");
      }
    },
    stop(text) { // polling ends for good (e.g. the reader lost access to the room)
      pausedUntil = Infinity;
      setStatus(text);
    },
    failed(xhr) { // xhr is null when no answer came
      const status = xhr ? xhr.status : 0;
      failures += 1;
      const backoff = Math.min(30000, 1000 * Math.pow(2, Math.min(failures, 5)));
      if (status === 400) { // e.g. the site's key changed: only a reload helps
        pausedUntil = Infinity;
        setStatus("Live updates stopped. Reload the page to see new messages.");
      } else if (status === 429) { // too many catch-ups from this network: wait as long as asked
        const retryAfter = Number(xhr.getResponseHeader("Retry-After")) || 30;
        pausedUntil = Date.now() + Math.max(backoff, retryAfter * 1000);
        setStatus("Live updates paused for " + Math.max(1, Math.round((pausedUntil - Date.now()) / 1000)) +
          " s: the server is busy with this network. Retrying…");
      } else {
        pausedUntil = Date.now() + backoff;
        setStatus("Live updates paused: can't reach the server. Retrying…");
      }
    },
  };
}
