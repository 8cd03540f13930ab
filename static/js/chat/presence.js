// "Here now": a member's tab tells the server the reader is here (a beat when it opens, then
// every 20 s while it is visible and in use) or away (hidden or no input for 60 s, or closed),
// and swaps in the list the stream sends (rendered by the server, rooms/presence.py). A beat
// counts for 45 s on the server, so a tab whose "away" is lost still drops off in time.

import { fragment, onSignal, postSignal } from "./signals.js";

const BEAT_MS = 20000;
const IDLE_MS = 60000;
const RECENT_INPUT_MS = 45000; // a "here" beat needs input this recent: 45 + 45 s ≤ 90 s idle
const CHECK_MS = 5000;

export function startPresence(section, composerForm) {
  const url = section.dataset.beatUrl;
  let member = section.dataset.member === "true";
  // This tab's id: the server keeps each tab's latest beat, so another tab's (or this page's
  // previous load's) "away" never hides the person while this tab is here.
  const tab = Array.from(crypto.getRandomValues(new Uint8Array(9)), (b) => "abcdefghijklmnopqrstuvwxyz0123456789-_ABCDEFGHIJKLMNOPQRSTUVWXYZ"[b & 63]).join("");
  let told = null; // what the server last heard: "here", "away", or nothing yet
  let lastBeat = 0;
  let lastInput = Date.now();
  let hiddenSince = document.visibilityState === "visible" ? null : Date.now();

  function send(state, keepalive = false) {
    told = state;
    lastBeat = Date.now();
    postSignal(url, { state, tab }, { keepalive }).then((response) => {
      if (response.status === 403 || response.status === 404) member = false; // not (or no longer) a member
    }).catch(() => {
      told = null; // try again at the next check
    });
  }

  function check() {
    if (!member || !url) return;
    const now = Date.now();
    const idle = now - lastInput >= IDLE_MS || (hiddenSince !== null && now - hiddenSince >= IDLE_MS);
    if (idle) {
      if (told === "here") send("away");
    } else if (hiddenSince === null && now - lastInput < RECENT_INPUT_MS && (told !== "here" || now - lastBeat >= BEAT_MS)) {
      send("here");
    }
  }

  function input() {
    lastInput = Date.now();
    if (told !== "here") check(); // back from idle: here again at once
  }
  ["keydown", "pointerdown", "pointermove", "wheel", "touchstart", "focus"].forEach((name) => {
    window.addEventListener(name, input, { passive: true, capture: true });
  });
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") {
      hiddenSince = null;
      input();
    } else {
      hiddenSince = Date.now();
    }
  });
  window.addEventListener("pagehide", () => {
    if (member && told === "here") send("away", true);
  });
  window.addEventListener("pageshow", (event) => {
    if (event.persisted) { // back from the back-forward cache: the "away" was sent on the way out
      told = null;
      input();
    }
  });
  // Posting in a public room joins it: from then on this tab counts as a member's.
  document.body.addEventListener("htmx:afterRequest", (event) => {
    if (composerForm && event.detail.elt === composerForm && event.detail.successful && !member) {
      member = true;
      check();
    }
  });

  onSignal("presence", (html) => {
    const list = fragment(html).querySelector("ul");
    const current = section.querySelector("ul");
    if (list && current) current.replaceWith(list);
  });

  check();
  setInterval(check, CHECK_MS);
}
