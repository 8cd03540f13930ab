// "… is typing": the composer tells the server at most once per 3 s while the reader types, and
// the line (an aria-live="polite" region) shows what the stream sends, rendered by the server
// (rooms/presence.py; the server sends it only when the set of typists changes). A new line waits
// until 2 s after the last one, so a screen reader hears who types, not every flicker; an empty
// line (they stopped, or their message arrived) clears it at once.

import { fragment, onSignal, postSignal } from "./signals.js";

const SEND_MS = 3200; // a little over the server's 3 s, so its throttle never drops a signal
const ANNOUNCE_GAP_MS = 2000;

export function startTyping(line, composerForm) {
  const url = line.dataset.typingUrl;
  const textarea = composerForm && composerForm.querySelector("textarea");
  if (textarea && url) {
    let lastSent = 0;
    textarea.addEventListener("input", () => {
      const now = Date.now();
      if (!textarea.value.trim() || now - lastSent < SEND_MS) return;
      lastSent = now;
      postSignal(url, {}).catch(() => {}); // a lost signal only means nobody sees this one
    });
  }

  let shownAt = 0;
  let timer = 0;
  onSignal("typing", (html) => {
    const text = fragment(html).textContent.trim();
    clearTimeout(timer);
    const show = () => {
      if (line.textContent !== text) {
        line.textContent = text;
        shownAt = Date.now();
      }
    };
    const wait = text ? shownAt + ANNOUNCE_GAP_MS - Date.now() : 0;
    if (wait > 0) timer = setTimeout(show, wait);
    else show();
  });
}
