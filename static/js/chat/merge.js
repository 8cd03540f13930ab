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

function sortKey(li) {
  return [Number(li.dataset.at), li.id];
}

function sortsBefore(a, b) {
  return a[0] < b[0] || (a[0] === b[0] && a[1] < b[1]);
}

// ``prepare(li)`` runs on each new message before it is shown.
export function createMessageList(list, prepare) {
  const deletions = new Map(); // message id -> deletion time (ms): never re-add a deleted message

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
    return true;
  }

  function applyDeletion(messageId, atMs) {
    deletions.set(messageId, atMs);
    const el = document.getElementById("m-" + messageId);
    if (!el) return;
    const next = el.nextElementSibling;
    el.remove();
    arrange(next); // it may have continued the removed message's group, or now open a day
  }

  // Merges the messages and deletions of a parsed answer; returns the messages it added.
  function merge(doc) {
    const added = [];
    doc.querySelectorAll("li.message").forEach((node) => {
      const li = document.importNode(node, true);
      if (insert(li)) added.push(li);
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

  return { list, deletions, merge, applyDeletion };
}
