// The "Your rooms" list and the title's unread count, kept live by the stream's `sidebar` events
// (rooms.activity.UserSide): {"total", "rooms": {room id: unread}} and either "html" (the whole
// list as the server renders it: the first event of every (re)connect, the current state, so a
// missed event never leaves a count wrong) or "badges" ({room id: the entry's badges' HTML}, only
// the rooms that changed: the server draws them as the page does, without re-rendering the list). While this tab shows the room's newest
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

  function patch(badges, rooms) {
    for (const [roomId, html] of Object.entries(badges)) {
      const entry = sidebar.querySelector(`#your-rooms .sidebar-entry[data-room="${CSS.escape(roomId)}"]`);
      const slot = entry && entry.querySelector(".sidebar-badges");
      if (!slot) continue;
      slot.innerHTML = html; // the server's markup: numbers and fixed words
      entry.dataset.unread = String(rooms[roomId] || 0);
    }
  }

  onSignal("sidebar", (data) => {
    let state;
    try {
      state = JSON.parse(data);
    } catch (error) {
      return;
    }
    if (!state) return;
    if (typeof state.html === "string") {
      swap(state.html);
    } else if (state.badges && typeof state.badges === "object") {
      patch(state.badges, state.rooms || {});
    } else {
      return;
    }
    last = state;
    apply();
  });
  // Reading starts or stops as the window gains or loses focus, or the newest message scrolls by.
  window.addEventListener("focus", apply);
  window.addEventListener("blur", apply);
  document.addEventListener("visibilitychange", apply);
  document.addEventListener("chat:reading", apply);
  return { refresh: apply };
}
