// The user's own stream on pages with the sidebar and no room (rooms.views.user_stream, /live/):
// its `sidebar` and `notify` events reach sidebar-live.js and notify.js as "chat:live" events on
// the document, as a room stream's user side does (stream.js). EventSource reconnects by itself
// after a dropped connection; the first event of every connection is the current state, so
// nothing is resumed. A 204 (signed out, or a server that serves no streams) closes it for good:
// the page keeps the counts it was served with.

const NAMES = ["sidebar", "notify"];

export function openUserStream(element) {
  if (!window.EventSource || !element.dataset.streamUrl) return null;
  const source = new EventSource(element.dataset.streamUrl);
  NAMES.forEach((name) => {
    source.addEventListener(name, (event) => {
      document.dispatchEvent(new CustomEvent("chat:live", { detail: { name, data: event.data } }));
    });
  });
  source.addEventListener("reload", () => { // the session ended: the page says so (sign-in)
    source.close();
    window.location.reload();
  });
  window.addEventListener("pagehide", () => source.close());
  return source;
}
