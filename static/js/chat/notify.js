// Desktop notifications: the stream's `notify` events (rooms.activity.UserSide: a message the
// user's setting for its room asks for, never their own, JSON {id, room, title, body, url,
// mention}) become a Notification when no tab of the site is focused, ONCE per message across all
// the user's tabs of this browser: every tab's stream sends the event; whichever tab takes the
// message's lock first claims the message id in a small localStorage record (bounded, expiring)
// and holds the lock a while, so the others skip it, and later ones find it claimed. A focused tab claims it too, without showing anything: the reader is here.
// `tag` = the message id is a second guard (the browser replaces rather than adds). Clicking one
// focuses its tab and opens the message (the room page at it).
// The open room needs no second path: its posts reach the user's side of the stream like any other
// room's (the stream's `updates` only draw them), so there is one notify event per message per tab.
// The permission is asked for only when the user clicks **Turn on desktop notifications**.
// docs/notifications.md describes it.

import { onSignal } from "./signals.js";

const LOCK = "chat-notify";
const RECORD = "chat-notified"; // {message id: ms until which it counts as notified}
const KEEP_MS = 10 * 60 * 1000; // far longer than the spread of one event across tabs
const MAX_KEPT = 200;
const FOCUS = "chat-focused"; // ms until which some tab of the site counts as focused
const FOCUS_MS = 4000;
const FOCUS_BEAT_MS = 1500;

function supported() {
  return "Notification" in window && window.isSecureContext !== false;
}

function focused() {
  return document.visibilityState === "visible" && document.hasFocus();
}

function storage() {
  try {
    return window.localStorage;
  } catch (error) {
    return null; // blocked (privacy settings): each tab decides alone, the tag still guards
  }
}

const claimedHere = new Set(); // without localStorage

// True if this tab is the first to claim ``id`` (run under the lock).
function claim(id, now) {
  const store = storage();
  if (!store) {
    if (claimedHere.has(id)) return false;
    claimedHere.add(id);
    return true;
  }
  let record = {};
  try {
    const parsed = JSON.parse(store.getItem(RECORD) || "{}");
    if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) record = parsed;
  } catch (error) { /* a damaged record: start afresh */ }
  if (Number(record[id]) > now) return false;
  const kept = Object.entries(record)
    .filter(([, until]) => Number(until) > now)
    .sort((a, b) => Number(b[1]) - Number(a[1]))
    .slice(0, MAX_KEPT - 1);
  const next = Object.fromEntries(kept);
  next[id] = now + KEEP_MS;
  try {
    store.setItem(RECORD, JSON.stringify(next));
  } catch (error) { /* full: the tag still guards */ }
  return true;
}

function anotherTabFocused(now) {
  const store = storage();
  return Boolean(store) && Number(store.getItem(FOCUS)) > now;
}

// Runs ``work`` in the one tab that takes this message's lock; the others, getting the same event
// while it is held, skip it. The lock is held a while after: localStorage reaches other tabs (other
// renderer processes) a moment late, so a tab taking the lock just after another one could still
// read a record without the claim and show a second notification. Web Locks are kept by the
// browser itself. Tabs that come later than that find the claim in the record.
const HOLD_MS = 15000;

function locked(id, work) {
  if (navigator.locks && navigator.locks.request) {
    return navigator.locks.request(`${LOCK}:${id}`, { ifAvailable: true }, async (lock) => {
      if (!lock) return; // another tab has this message now
      work();
      await new Promise((resolve) => setTimeout(resolve, HOLD_MS));
    });
  }
  return Promise.resolve().then(work); // older browsers: the record alone (a rare double is tagged away)
}

function sameSite(url) {
  return typeof url === "string" && url.startsWith("/") && !url.startsWith("//") ? url : "";
}

function show(note) {
  const url = sameSite(note.url);
  let notification;
  try {
    notification = new Notification(String(note.title || "New message"), {
      body: String(note.body || ""), tag: String(note.id), data: { id: note.id, url },
    });
  } catch (error) {
    return; // Chrome on Android allows them only from a service worker: the page's counts still show it
  }
  notification.addEventListener("click", (event) => {
    event.preventDefault();
    window.focus();
    if (url) window.location.assign(url);
    notification.close();
  });
}

// Tells the other tabs, while this one is focused, that the reader is on the site.
function beatFocus() {
  const store = storage();
  if (!store) return;
  let timer = 0;
  function beat() {
    try {
      if (focused()) store.setItem(FOCUS, String(Date.now() + FOCUS_MS));
    } catch (error) { /* full */ }
  }
  function update() {
    clearInterval(timer);
    timer = 0;
    if (focused()) {
      beat();
      timer = setInterval(beat, FOCUS_BEAT_MS);
    } else {
      try {
        store.removeItem(FOCUS);
      } catch (error) { /* blocked */ }
    }
  }
  ["focus", "blur"].forEach((name) => window.addEventListener(name, update));
  document.addEventListener("visibilitychange", update);
  update();
}

export function startNotifications() {
  beatFocus();
  onSignal("notify", (data) => {
    let note;
    try {
      note = JSON.parse(data);
    } catch (error) {
      return;
    }
    if (!note || !note.id) return;
    locked(String(note.id), () => {
      const now = Date.now();
      if (!claim(String(note.id), now)) return; // another tab has it
      if (focused() || anotherTabFocused(now)) return; // the reader is here: the page shows it
      if (!supported() || Notification.permission !== "granted") return;
      show(note);
    });
  });
}

// **Turn on desktop notifications**: shown only while the browser can still ask (permission
// "default"); asks on click only. Granted, blocked or unsupported: the button hides and a short
// text says how things stand (blocked: where to change it).
export function startDesktopButton(button, note) {
  function say(text) {
    if (!note) return;
    note.textContent = text;
    note.hidden = !text;
  }
  function update() {
    if (!supported()) {
      button.hidden = true;
      say("");
      return;
    }
    const permission = Notification.permission;
    button.hidden = permission !== "default";
    if (permission === "granted") say("Desktop notifications are on in this browser.");
    else if (permission === "denied") {
      say("Desktop notifications are blocked for this site. To get them, allow notifications in your browser's site settings.");
    } else say("");
  }
  button.addEventListener("click", () => {
    const asked = Notification.requestPermission(update); // older Safari: the callback
    if (asked && asked.then) asked.then(update, update);
  });
  // Changed in another tab or in the browser's settings meanwhile.
  if (navigator.permissions && navigator.permissions.query) {
    navigator.permissions.query({ name: "notifications" }).then((status) => {
      status.addEventListener("change", update);
    }, () => {});
  }
  update();
}
