// Reactions under messages (templates/rooms/_reactions.html). A reaction button sends the state its
// viewer wants (`on` = 1 or 0), computed from what the button shows when it is clicked, so a double
// click, or a click while the first answer is still coming, asks for the same thing twice and the
// server counts it once. The answer is the message's li, merged by its version like a live change.
//
// Live fragments are the same HTML for every viewer: this marks the viewer's own reactions pressed
// (data-reactors against #room's data-viewer) and shows Add reaction, or, for someone signed out,
// leaves the counts as plain text. Full pages come marked already; applying it again changes nothing.

import { parseHtml } from "./merge.js";

function isReactionForm(elt) {
  return elt instanceof Element && elt.matches("form.reaction-form");
}

function source(event) {
  return event.detail.requestConfig ? event.detail.requestConfig.elt : event.detail.elt;
}

function reactedBy(button, viewer) {
  return Boolean(viewer) && (button.dataset.reactors || "").split(" ").includes(viewer);
}

export function startReactions(list, messages, viewer) {
  function apply(li) {
    li.querySelectorAll("button.reaction[data-reactors]").forEach((button) => {
      const form = button.form;
      if (!viewer) { // signed out: the count and the people, nothing to press
        const text = document.createElement("span");
        text.className = "reaction";
        text.title = button.title;
        text.append(...button.childNodes);
        form.replaceWith(text);
        return;
      }
      const pressed = reactedBy(button, viewer);
      button.setAttribute("aria-pressed", String(pressed));
      form.elements.on.value = pressed ? "0" : "1";
    });
    const add = li.querySelector(".reaction-add");
    if (!add) return;
    if (viewer) add.hidden = false;
    else {
      const picker = li.querySelector(".reaction-picker");
      if (picker) picker.remove();
      add.remove();
    }
  }

  function say(form, text) {
    const box = form.closest(".reaction-picker") || form.closest(".reactions");
    const line = box && box.querySelector(":scope > .reaction-error");
    if (!line) return;
    line.textContent = text;
    line.hidden = !text;
  }

  list.querySelectorAll("li.message").forEach(apply);
  // Every way a message arrives or changes (a live post or change, an older or newer page, this
  // module's own answers) puts an li into the list.
  new MutationObserver((records) => {
    records.forEach((record) => record.addedNodes.forEach((node) => {
      if (node instanceof Element && node.matches("li.message")) apply(node);
    }));
  }).observe(list, { childList: true });

  list.addEventListener("htmx:configRequest", (event) => {
    const form = event.detail.elt;
    if (!isReactionForm(form)) return;
    const button = form.querySelector("button.reaction");
    // The state wanted, from what the viewer sees now: never a blind toggle.
    if (button) event.detail.parameters.on = button.getAttribute("aria-pressed") === "true" ? "0" : "1";
  });

  list.addEventListener("htmx:afterRequest", (event) => {
    const form = source(event);
    if (!isReactionForm(form) || !event.detail.successful) return;
    const li = form.closest("li.message");
    const picker = form.closest(".reaction-picker");
    const sent = (event.detail.requestConfig && event.detail.requestConfig.parameters) || {};
    const hadFocus = li && li.contains(document.activeElement);
    say(form, "");
    if (picker && picker.matches(":popover-open")) picker.hidePopover();
    if (form.matches(".reaction-typed")) form.reset();
    messages.merge(parseHtml(event.detail.xhr.responseText));
    // The li was replaced: keep the keyboard where it was, on this emoji's button.
    const now = li && document.getElementById(li.id);
    if (hadFocus && now && now !== li) {
      const chosen = sent.emoji;
      const target = [...now.querySelectorAll("form.reaction-form:not(.reaction-quick):not(.reaction-typed)")]
        .find((f) => f.elements.emoji && f.elements.emoji.value === chosen);
      const focusable = target ? target.querySelector("button") : now.querySelector(".reaction-add");
      if (focusable) focusable.focus();
    }
  });

  // A refusal says why where the reader is looking: under the reactions, or in the open picker
  // (and not as the page's generic "That didn't work").
  function failed(event) {
    const form = source(event);
    if (!isReactionForm(form)) return;
    event.stopPropagation();
    const xhr = event.type === "htmx:responseError" ? event.detail.xhr : null;
    const text = xhr && xhr.status < 500 && (xhr.getResponseHeader("Content-Type") || "").startsWith("text/plain")
      ? xhr.responseText
      : "Your reaction was not sent (" + (xhr ? "error " + xhr.status : "no connection") + "). Try again.";
    say(form, text);
  }
  ["htmx:responseError", "htmx:sendError", "htmx:timeout"].forEach((name) => list.addEventListener(name, failed));
}
