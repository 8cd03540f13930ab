/* The thread view (templates/rooms/thread.html). Its messages are the room page's (_message.html),
 * whose reactions, Delete and Mark as unread post through htmx with hx-swap none: this applies
 * their answers as the room page does. A reaction's answer is the message's li (reactions.js merges
 * it by its version through merge.js); a deletion takes the li off; Mark as unread says so. The li
 * of an answer is a live fragment, the same for every viewer: Delete, Edit and Mark as unread are
 * shown here from the page's data attributes (permissions.js, edit.js), as on the room page.
 * Copy link and inline editing work as there. No live updates: a reload shows others' changes.
 */
import { startCopyLinks } from "./copy-link.js";
import { startEditing } from "./edit.js";
import { arrangeAll } from "./layout.js";
import { createMessageList } from "./merge.js";
import { revealDelete } from "./permissions.js";
import { startReactions } from "./reactions.js";
import { localizeTimes } from "./times.js";

function source(event) {
  return event.detail.requestConfig ? event.detail.requestConfig.elt : event.detail.elt;
}

function start(thread, list) {
  const member = thread.hasAttribute("data-member");
  const status = document.getElementById("thread-status");

  function say(text) {
    if (status) status.textContent = text;
  }

  const messages = createMessageList(list, (li) => {
    revealDelete(li, thread.dataset.deleteScope || "");
    const unread = li.querySelector(".unread-form[hidden]");
    if (unread && member) unread.hidden = false;
    else if (unread) unread.remove();
  });

  list.addEventListener("htmx:afterRequest", (event) => {
    const elt = source(event);
    if (!event.detail.successful || !(elt instanceof Element)) return;
    const li = elt.closest("li.message");
    if (!li) return;
    if (elt.matches(".delete-form")) {
      messages.applyDeletion(li.id.slice(2), Date.now());
      say("Message deleted.");
    } else if (elt.matches(".unread-form")) {
      say("Marked as unread: the room opens at this message.");
    }
  });

  function failed(event) {
    const elt = source(event);
    if (!(elt instanceof Element) || !elt.matches(".delete-form, .unread-form")) return;
    const xhr = event.type === "htmx:responseError" ? event.detail.xhr : null;
    const text = xhr && xhr.status < 500 && (xhr.getResponseHeader("Content-Type") || "").startsWith("text/plain")
      && xhr.responseText;
    say(text || "That didn't work (" + (xhr ? "error " + xhr.status : "no connection") + "). Try again.");
  }
  ["htmx:responseError", "htmx:sendError", "htmx:timeout"].forEach((name) => list.addEventListener(name, failed));

  arrangeAll(list); // day dividers and author groups, as merged answers get them
  localizeTimes(list);
  startCopyLinks(list, document.getElementById("announcer"));
  startReactions(list, messages, thread.dataset.viewer || "");
  startEditing(thread, list, messages);
}

const thread = document.getElementById("thread");
const list = document.getElementById("thread-messages");
if (thread && list && window.htmx) start(thread, list);
