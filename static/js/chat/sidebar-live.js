// The "Your rooms" list and the title's unread count, kept live by the stream's `sidebar` events
// (rooms.activity.UserSide): each carries the list as the server renders it and the counts,
// {"html", "total", "rooms": {room id: unread}}. The first one on every (re)connect is the current
// state, so a missed event never leaves a count wrong. While this tab shows the room's newest
// message in a focused window (read.js), the open room's own count is hidden: the reader is
// reading it, and the read report that clears it on the server is on its way.
// docs/live-updates.md, "Unread and mentions, live".

import { onSignal } from "./signals.js";

const TITLE_COUNT = /^\(\d+\+?\) /;

function label(count) {
  return count > 99 ? "99+" : String(count);
}

// ``readingNewest()``: read.js says the open room's newest message is being read. The open room
// is the list's entry marked aria-current (the server marks it).
export function startLiveSidebar(sidebar, readingNewest) {
  let last = null;

  function apply() {
    if (!last) return;
    const current = sidebar.querySelector('#your-rooms a[aria-current="page"]');
    const entry = current && current.closest(".sidebar-entry");
    const hideOwn = Boolean(entry) && readingNewest();
    const own = hideOwn ? Number(last.rooms[entry.dataset.room] || 0) : 0;
    if (entry) {
      const count = entry.querySelector(".unread");
      if (count) {
        count.hidden = hideOwn;
        const comma = count.previousElementSibling;
        if (comma && comma.classList.contains("visually-hidden")) comma.hidden = hideOwn;
      }
    }
    const total = Math.max(0, Number(last.total || 0) - own);
    const bare = document.title.replace(TITLE_COUNT, "");
    const title = total ? `(${label(total)}) ${bare}` : bare;
    if (document.title !== title) document.title = title;
  }

  function swap(html) {
    const nav = sidebar.querySelector("#your-rooms");
    if (!nav) return;
    const template = document.createElement("template");
    template.innerHTML = html.trim();
    const fresh = template.content.querySelector("#your-rooms");
    if (!fresh) return;
    // Keep the reader's place: focus stays on the same link or button if it was in the list.
    const focused = nav.contains(document.activeElement) ? document.activeElement : null;
    const focusKey = focused && (focused.getAttribute("href") || focused.textContent);
    nav.replaceChildren(...fresh.childNodes);
    if (focusKey) {
      const again = Array.from(nav.querySelectorAll("a, button"))
        .find((el) => (el.getAttribute("href") || el.textContent) === focusKey);
      if (again) again.focus({ preventScroll: true });
    }
    if (window.htmx) window.htmx.process(nav);
  }

  onSignal("sidebar", (data) => {
    let state;
    try {
      state = JSON.parse(data);
    } catch (error) {
      return;
    }
    if (!state || typeof state.html !== "string") return;
    last = state;
    swap(state.html);
    apply();
  });
  // Reading starts or stops as the window gains or loses focus, or the newest message scrolls by.
  window.addEventListener("focus", apply);
  window.addEventListener("blur", apply);
  document.addEventListener("visibilitychange", apply);
  document.addEventListener("chat:reading", apply);
  return { refresh: apply };
}
