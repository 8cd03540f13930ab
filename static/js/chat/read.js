// Reading: the member's read cursor (ReadSeq, ReadPos on their membership) follows what the reader
// has actually seen. It moves when the newest message is in view (intersecting #timeline) in a
// visible, focused tab, not when a background tab merely received it. Each write is a POST of the
// newest message's seq and position to the room's /read, at most one every few seconds per tab and
// none when nothing newer than the cursor was seen; the server only ever moves it forward.
// "Mark as unread" moves it back on purpose: this tab then shows the New messages line above that
// message and stops advancing until a newer message arrives (as Slack does), so what the reader
// just marked does not count as read again at once. docs/live-updates.md, "The browser".

import { postSignal } from "./signals.js";

const WRITE_EVERY_MS = 3000;

function seqOf(li) {
  const seq = Number(li && li.dataset.seq);
  return Number.isInteger(seq) && seq > 0 ? seq : 0;
}

// The New messages line, above ``li`` (below its day divider, which layout.js keeps first).
export function showNewMessagesLine(li) {
  const old = document.getElementById("new-messages");
  if (old) old.remove();
  const line = document.createElement("h2");
  line.className = "new-messages";
  line.id = "new-messages";
  line.textContent = "New messages";
  const day = li.querySelector(":scope > .day-divider");
  li.insertBefore(line, day ? day.nextSibling : li.firstChild);
  return line;
}

// ``live``: the page follows the room (not an older page), so its newest message is the room's.
export function startReading(room, list, scroller, { live }) {
  const member = Boolean(room.dataset.readUrl);
  let url = live ? room.dataset.readUrl : "";
  let told = Number(room.dataset.readSeq) || 0; // the ReadSeq the server holds, as far as this tab knows
  let newest = null; // the newest message, watched
  let newestInView = false;
  let pausedUpTo = null; // after Mark as unread: the highest seq then; a higher one resumes reading
  let lastWrite = 0;
  let timer = 0;
  let writing = false;
  let generation = 0; // a write answered after Mark as unread must not undo it

  function highestSeq() {
    let highest = 0;
    list.querySelectorAll(":scope > li.message[data-seq]").forEach((li) => {
      highest = Math.max(highest, seqOf(li));
    });
    return highest;
  }

  const observer = url && new IntersectionObserver((entries) => {
    entries.forEach((entry) => {
      if (entry.target === newest) newestInView = entry.isIntersecting;
    });
    document.dispatchEvent(new CustomEvent("chat:reading")); // sidebar-live.js: the open room's count
    check();
  }, { root: scroller.element === document.scrollingElement ? null : scroller.element });

  function watchNewest() {
    let li = list.lastElementChild;
    while (li && !li.matches("li.message")) li = li.previousElementSibling;
    if (pausedUpTo !== null && highestSeq() > pausedUpTo) pausedUpTo = null; // a newer message came
    if (li === newest) return;
    if (newest) observer.unobserve(newest);
    newest = li;
    newestInView = false; // until the observer says otherwise
    if (li) observer.observe(li);
  }

  function check() {
    clearTimeout(timer);
    timer = 0;
    if (!url || writing || pausedUpTo !== null || !newest || !newestInView) return;
    if (document.visibilityState !== "visible" || !document.hasFocus()) return;
    const seq = highestSeq(); // in time order a message's seq can trail its neighbour's by a post or two
    if (seq <= told || !newest.dataset.pos) return; // nothing new seen: no write
    const wait = lastWrite + WRITE_EVERY_MS - Date.now();
    if (wait > 0) {
      timer = setTimeout(check, wait);
      return;
    }
    write(seq, newest.dataset.pos);
  }

  function write(seq, pos) {
    writing = true;
    lastWrite = Date.now();
    const sentIn = generation;
    postSignal(url, { seq, pos }).then((response) => {
      if (response.ok && sentIn === generation) told = Math.max(told, seq);
      else if (response.status === 403 || response.status === 404) url = ""; // no longer a member
    }).catch(() => { /* tried again at the next check */ }).finally(() => {
      writing = false;
      check();
    });
  }

  if (url) {
    new MutationObserver(() => {
      watchNewest();
      check();
    }).observe(list, { childList: true });
    window.addEventListener("focus", check);
    document.addEventListener("visibilitychange", check);
    watchNewest();
  }

  return {
    // The reader is reading the newest message: in view, in a visible focused tab, not just marked
    // unread. The live sidebar hides this room's own count meanwhile (sidebar-live.js).
    readingNewest() {
      return Boolean(url && newest && newestInView && pausedUpTo === null
        && document.visibilityState === "visible" && document.hasFocus());
    },
    // A message about to be shown: its Mark as unread button is for members.
    prepare(li) {
      const form = li.querySelector(".unread-form[hidden]");
      if (form && member) form.hidden = false;
      else if (form) form.remove();
    },
    // The server moved the cursor back to just before ``li``.
    markedUnread(li) {
      generation += 1;
      told = Math.max(0, seqOf(li) - 1);
      pausedUpTo = highestSeq();
      clearTimeout(timer);
      showNewMessagesLine(li);
      document.dispatchEvent(new CustomEvent("chat:reading"));
    },
  };
}
