// The live-update cursor that rides on every poll: the watermark the server signed (sent back
// unchanged) and the refs of events the page already holds since watermark − overlap. The
// protocol is in docs/live-updates.md, "The cursor".

const MAX_SEEN = 120; // keeps the poll URL short; anything left out is deduplicated by DOM id

export function createCursor(poller, messages, backoff) {
  const overlapMs = Number(poller.dataset.overlapMs) || 10000;
  let watermark = poller.dataset.watermark || ""; // "<ms>.<signature>", bound to this room
  let renewing = false; // a private room's live grant is being renewed: no polls meanwhile

  function floorMs() {
    return (Number(String(watermark).split(".")[0]) || 0) - overlapMs;
  }

  function seenRefs() {
    const floor = floorMs();
    const refs = [];
    for (let li = messages.list.lastElementChild; li && refs.length < MAX_SEEN; li = li.previousElementSibling) {
      if (Number(li.dataset.at) <= floor) break;
      refs.push(li.id);
    }
    messages.deletions.forEach((at, id) => {
      if (at > floor && refs.length < MAX_SEEN) refs.push("d-" + id);
      else if (at < floor - 10 * overlapMs) messages.deletions.delete(id);
    });
    messages.updates.forEach((at, ref) => { // changes held: not sent again (a resend would change nothing)
      if (at > floor && refs.length < MAX_SEEN) refs.push(ref);
      else if (at <= floor) messages.updates.delete(ref);
    });
    return refs;
  }

  // A private room's watermark is also a short-lived grant; once it expires the poll answers 403.
  // The server renews it after checking the session and the membership: "renewed", "gone" (404:
  // no access any more, e.g. removed from the room) or "failed".
  async function renew(url) {
    try {
      const response = await fetch(url + "?w=" + encodeURIComponent(watermark),
        { credentials: "same-origin", cache: "no-store" });
      const next = response.headers.get("Chat-Watermark");
      if (response.ok && next) {
        watermark = next;
        return "renewed";
      }
      return response.status === 404 ? "gone" : "failed";
    } catch (error) {
      return "failed";
    }
  }

  async function renewGrant() {
    renewing = true;
    const outcome = await renew(poller.dataset.grantUrl);
    renewing = false;
    if (outcome === "renewed") backoff.succeeded();
    else if (outcome === "gone") { // no longer a member: the page itself is gone for this reader
      backoff.stop("You no longer have access to this room.");
      window.location.reload();
    } else backoff.failed(null);
  }

  return {
    addTo(parameters) {
      parameters.w = watermark;
      parameters.seen = seenRefs().join(",");
    },
    advance(xhr) { // every answer, 204 included, carries the server's next watermark
      const next = xhr.getResponseHeader("Chat-Watermark");
      if (next) watermark = next;
    },
    // The stream's events carry the server's next watermark in their SSE id (stream.js).
    setWatermark(token) {
      if (token) watermark = token;
    },
    renewingGrant() {
      return renewing;
    },
    // True when the poll failed on an expired grant, which this then renews (one renewal at a time).
    grantExpired(xhr) {
      if (!(xhr && xhr.status === 403 && poller.dataset.grantUrl)) return false;
      if (!renewing) renewGrant();
      return true;
    },
  };
}
