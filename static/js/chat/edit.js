// Edit a message in place. Its Edit link leads to the edit page (without JavaScript); with this
// module a click fetches the same form as a fragment (HX-Request) and puts it in place of the
// message's text. Enter saves (Shift+Enter starts a new line; not during IME composition), Esc
// cancels. While the form is open the li carries data-editing, so a live change of the message
// waits (merge.js) until editing ends (applyPending). A save the server refuses comes back as the
// form with its answer: "changed meanwhile" (409) shows the current text and keeps the user's.
// Live messages arrive with Edit and History hidden, as Delete does (permissions.js): the page's
// data-delete-scope and data-edit-seconds decide; an author's Edit goes when the window closes.
// The server checks every edit again.

import { parseHtml } from "./merge.js";

const ANY_AUTHOR = "*";
const MAX_TIMER_MS = 2 ** 31 - 1; // setTimeout's longest delay
const editedTime = new Intl.DateTimeFormat(undefined, { dateStyle: "full", timeStyle: "short" });

export function startEditing(room, list, messages) {
  const scope = room.dataset.deleteScope || "";
  // Absent (a page without the setting): the server alone decides.
  const windowMs = room.dataset.editSeconds ? Number(room.dataset.editSeconds) * 1000 : Infinity;
  const announcer = document.getElementById("announcer");

  function say(text) {
    if (announcer) announcer.textContent = text;
  }

  function mayEdit(li) {
    if (scope === ANY_AUTHOR) return true;
    return scope !== "" && scope === li.dataset.author && Date.now() - Number(li.dataset.at) <= windowMs;
  }

  // The author's Edit goes when the window closes (the server refuses from then on anyway).
  function expireLater(li) {
    const left = Number(li.dataset.at) + windowMs - Date.now();
    if (!(left < MAX_TIMER_MS)) return;
    const check = () => {
      if (li.hasAttribute("data-editing")) setTimeout(check, 5000); // a save now gets the server's answer
      else li.querySelectorAll(".edit-link").forEach((link) => link.remove());
    };
    setTimeout(check, Math.max(0, left) + 100);
  }

  function prepare(li) {
    const edit = li.querySelector(".edit-link");
    if (edit) {
      if (!mayEdit(li)) edit.remove();
      else {
        edit.hidden = false;
        if (scope !== ANY_AUTHOR) expireLater(li);
      }
    }
    const history = li.querySelector(".history-link[hidden]");
    if (history) {
      if (scope === ANY_AUTHOR) history.hidden = false;
      else history.remove();
    }
    const edited = li.querySelector(".edited[data-edited-at]");
    if (edited && !edited.dataset.local) {
      const when = new Date(edited.dataset.editedAt);
      if (!isNaN(when.getTime())) edited.title = "Edited " + editedTime.format(when);
      edited.dataset.local = "1";
    }
  }

  function box(li) {
    return li.querySelector(":scope > .edit-form");
  }

  function show(li, next) {
    const comment = li.querySelector(":scope > .comment");
    const current = box(li);
    if (current) current.replaceWith(next);
    else comment.after(next);
    comment.hidden = true;
    const textarea = next.querySelector("textarea");
    if (textarea) {
      textarea.focus();
      textarea.setSelectionRange(textarea.value.length, textarea.value.length);
    } else {
      const back = next.querySelector(".edit-cancel");
      if (back) back.focus();
    }
  }

  function close(li) {
    const open = box(li);
    if (open) open.remove();
    const comment = li.querySelector(":scope > .comment");
    if (comment) comment.hidden = false;
    li.removeAttribute("data-editing");
    messages.applyPending(li.id); // a change that arrived meanwhile
  }

  function focusEdit(id) {
    const li = document.getElementById(id);
    const link = li && li.querySelector(".edit-link");
    if (link) link.focus({ preventScroll: true });
  }

  async function request(url, options) {
    const answer = await fetch(url, { credentials: "same-origin", ...options,
      headers: { "HX-Request": "true", ...(options && options.headers) } });
    return { status: answer.status, ok: answer.ok, doc: parseHtml(await answer.text()) };
  }

  async function open(li, link) {
    if (li.hasAttribute("data-editing")) {
      const textarea = box(li) && box(li).querySelector("textarea");
      if (textarea) textarea.focus();
      return;
    }
    li.setAttribute("data-editing", "");
    let answer;
    try {
      answer = await request(link.href);
    } catch (error) {
      close(li);
      say("Couldn't reach the server to edit the message. Try again.");
      return;
    }
    const form = answer.doc.querySelector(".edit-form");
    if (!form || !document.getElementById(li.id)) { // nothing to show, or deleted meanwhile
      close(li);
      if (!form) say("The message can't be edited (error " + answer.status + ").");
      return;
    }
    show(li, document.importNode(form, true));
  }

  function refuse(form, text) {
    const errors = form.querySelector(".edit-errors");
    const p = document.createElement("p");
    p.textContent = text;
    if (errors) errors.replaceChildren(p);
    const textarea = form.querySelector("textarea");
    if (textarea) {
      textarea.setAttribute("aria-invalid", "true");
      textarea.focus();
    }
  }

  async function save(li, form) {
    if (form.classList.contains("is-sending")) return;
    form.classList.add("is-sending");
    let answer;
    try {
      answer = await request(form.action, { method: "POST", body: new FormData(form) });
    } catch (error) {
      form.classList.remove("is-sending");
      refuse(form, "Couldn't reach the server. Your text is kept: press Enter to try again.");
      return;
    }
    form.classList.remove("is-sending");
    if (!document.getElementById(li.id)) return; // deleted meanwhile: nothing left to edit
    if (answer.ok) {
      close(li);
      messages.merge(answer.doc); // the saved version, unless a newer one is already shown
      say("Message edited.");
      focusEdit(li.id);
      return;
    }
    const next = answer.doc.querySelector(".edit-form");
    if (!next) {
      refuse(form, "Your edit was not saved (error " + answer.status + "). Your text is kept: try again.");
      return;
    }
    const typed = form.querySelector("textarea");
    const fresh = document.importNode(next, true);
    const freshText = fresh.querySelector("textarea");
    if (typed && freshText) freshText.value = typed.value; // what the user has now, typed meanwhile too
    show(li, fresh);
    const said = fresh.querySelector(".edit-errors, .edit-refused");
    if (said) say(said.textContent.trim());
  }

  list.addEventListener("click", (event) => {
    const link = event.target.closest(".edit-link, .edit-cancel");
    if (!link || event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) return;
    const li = link.closest("li.message");
    if (!li) return;
    event.preventDefault();
    if (link.matches(".edit-link")) open(li, link);
    else {
      close(li);
      focusEdit(li.id);
    }
  });

  list.addEventListener("submit", (event) => {
    const form = event.target.closest(".edit-form");
    if (!form) return;
    event.preventDefault();
    save(form.closest("li.message"), form);
  });

  list.addEventListener("keydown", (event) => {
    const form = event.target.closest(".edit-form");
    if (!form || event.isComposing) return;
    const li = form.closest("li.message");
    if (event.key === "Escape") {
      event.preventDefault();
      close(li);
      focusEdit(li.id);
    } else if (event.key === "Enter" && event.target.matches("textarea") && !event.shiftKey && !event.altKey
               && !event.ctrlKey && !event.metaKey) {
      event.preventDefault();
      form.requestSubmit();
    }
  });

  list.querySelectorAll("li.message").forEach(prepare);
  new MutationObserver((changes) => {
    changes.forEach((change) => change.addedNodes.forEach((node) => {
      if (node.nodeType === 1 && node.matches("li.message")) prepare(node);
    }));
  }).observe(list, { childList: true });
}
