// The message list: one element per message id, ordered by (CreatedAt, id) as the server orders
// them, whichever answer (poll, post, older page) brings a message and in whatever order.

import { arrange } from "./layout.js";
import { localizeTimes } from "./times.js";

// DOMParser documents are inert: nothing in a response runs.
export function parse(xhr) {
  return parseHtml(xhr.responseText);
}

export function parseHtml(text) {
  return new DOMParser().parseFromString(text || "", "text/html");
}

function versionOf(li) {
  return Number(li.dataset.version) || 0;
}

function sortKey(li) {
  return [Number(li.dataset.at), li.id];
}

function sortsBefore(a, b) {
  return a[0] < b[0] || (a[0] === b[0] && a[1] < b[1]);
}

// Where the keyboard is inside a message that is about to be replaced: a function that finds the
// same control in the new version (a reaction by its emoji, else the nth control of the same kind),
// so a change arriving under a keyboard or screen-reader user doesn't throw them to the page's start.
const CONTROLS = "a[href], button, input, textarea, select, [tabindex]";

function focusedControl(current) {
  const active = document.activeElement;
  if (!active || active === current || !current.contains(active)) return null;
  const form = active.closest("form.reaction-form");
  const emoji = form && form.elements.emoji ? form.elements.emoji.value : null;
  const kind = (node) => node.tagName === active.tagName && node.className === active.className;
  const nth = [...current.querySelectorAll(CONTROLS)].filter(kind).indexOf(active);
  return (li) => {
    if (emoji !== null) {
      const twin = [...li.querySelectorAll("form.reaction-form")]
        .find((f) => f.elements.emoji && f.elements.emoji.value === emoji);
      if (twin && twin.querySelector("button")) return twin.querySelector("button");
    }
    return nth >= 0 ? [...li.querySelectorAll(CONTROLS)].filter(kind)[nth] || null : null;
  };
}

// ``prepare(li)`` runs on each new message before it is shown.
export function createMessageList(list, prepare) {
  const deletions = new Map(); // message id -> deletion time (ms): never re-add a deleted message
  const pending = new Map(); // DOM id -> a newer version that arrived while the message was being edited
  const updates = new Map(); // "u-<id>.<version>" -> when it arrived (ms): the cursor reports them
  // Changes that came before their message (another host's feed, read a moment earlier): the
  // newest per message, applied when it arrives. Bounded: the oldest go first.
  const early = new Map(); // DOM id -> li
  const EARLY_MAX = 100;

  function insert(li) {
    if (document.getElementById(li.id)) return false;
    if (deletions.has(li.id.slice(2))) return false;
    prepare(li);
    const key = sortKey(li);
    let node = list.lastElementChild;
    while (node && sortsBefore(key, sortKey(node))) node = node.previousElementSibling;
    list.insertBefore(li, node ? node.nextSibling : list.firstChild);
    arrange(li); // its divider and group, and the next message's, which may now continue it
    arrange(li.nextElementSibling);
    localizeTimes(li);
    window.htmx.process(li);
    const change = early.get(li.id);
    if (change) {
      early.delete(li.id);
      replace(change);
    }
    return true;
  }

  function keepEarly(li) {
    const waiting = early.get(li.id);
    if (waiting && versionOf(waiting) >= versionOf(li)) return;
    early.delete(li.id);
    early.set(li.id, li);
    if (early.size > EARLY_MAX) early.delete(early.keys().next().value);
  }

  function applyDeletion(messageId, atMs) {
    deletions.set(messageId, atMs);
    const el = document.getElementById("m-" + messageId);
    if (!el) return;
    const next = el.nextElementSibling;
    el.remove();
    arrange(next); // it may have continued the removed message's group, or now open a day
  }

  // A newer version of a message on the page (an edit, a reaction, a reply count) takes its
  // place; an older or equal one changes nothing, so each change shows once whichever answer brings
  // it first. A message being edited here keeps its form: the change waits (applyPending).
  function replace(li) {
    const current = document.getElementById(li.id);
    if (deletions.has(li.id.slice(2))) return false;
    if (!current) {
      if (li.hasAttribute("data-update")) keepEarly(li); // its message may be on its way
      return false;
    }
    if (versionOf(li) <= versionOf(current)) return false;
    li.removeAttribute("data-update");
    if (current.hasAttribute("data-editing")) {
      const waiting = pending.get(li.id);
      if (!waiting || versionOf(li) > versionOf(waiting)) pending.set(li.id, li);
      return false;
    }
    // The day divider and the New messages line belong to the place in the list, not the message;
    // so does being the message a permanent link opened at.
    current.querySelectorAll(":scope > h2").forEach((h) => li.insertBefore(h, li.firstChild));
    ["data-linked", "aria-current"].forEach((name) => {
      if (current.hasAttribute(name)) li.setAttribute(name, current.getAttribute(name));
    });
    prepare(li);
    const twin = focusedControl(current);
    current.replaceWith(li);
    arrange(li);
    localizeTimes(li);
    window.htmx.process(li);
    // After the list's mutation observers (reactions.js turns links into buttons): they run first.
    if (twin) queueMicrotask(() => { const control = twin(li); if (control) control.focus(); });
    document.dispatchEvent(new CustomEvent("chat:message-changed", { detail: { li } }));
    return true;
  }

  // Applies a change that arrived while the message was being edited (edit.js calls this).
  function applyPending(id) {
    const li = pending.get(id);
    pending.delete(id);
    return li ? replace(li) : false;
  }

  // Merges the messages, changes and deletions of a parsed answer; returns the messages it added.
  function merge(doc) {
    const added = [];
    doc.querySelectorAll("li.message").forEach((node) => {
      const li = document.importNode(node, true);
      if (li.hasAttribute("data-update")) { // never inserted: its message may be off the page
        updates.set("u-" + li.id.slice(2) + "." + versionOf(li), Number(li.dataset.update) || Date.now());
        replace(li);
      }
      else if (insert(li)) added.push(li);
      else replace(li); // already here: keep the newer of the two
    });
    doc.querySelectorAll("li.deletion").forEach((node) => {
      applyDeletion(node.dataset.deleted, Number(node.dataset.at));
    });
    if (added.length) {
      const empty = document.getElementById("no-messages");
      if (empty) empty.remove();
    }
    return added;
  }

  return { list, deletions, updates, merge, applyDeletion, applyPending, replace };
}
