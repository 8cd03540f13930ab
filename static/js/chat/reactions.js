// Reactions under messages (templates/rooms/_reactions.html). A reaction button sends the state its
// viewer wants (`on` = 1 or 0), computed from what the button shows when it is clicked, so a double
// click, or a click while the first answer is still coming, asks for the same thing twice and the
// server counts it once. The answer is the message's li, merged by its version like a live change.
//
// Live fragments are the same HTML for every viewer: this marks the viewer's own reactions pressed
// (data-reactors against #room's data-viewer) and shows Add reaction, or, for someone signed out,
// leaves the counts as plain text. Full pages come marked already; applying it again changes nothing.
//
// Add reaction's picker (templates/rooms/_reaction_picker.html) is on the page once, not in every
// message (it would triple the page). Each message has only an Add reaction link to the react page,
// for when there is no JavaScript; here it becomes a button whose popovertarget is the one picker,
// so the browser does what a popover's invoker gets: Escape and a click elsewhere close it, Tab goes
// from the button into it, focus comes back when it closes. A click aims the picker at its message
// (the forms' author and sk) and places it there.

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

const GAP = 4; // px between Add reaction and the picker
const MARGIN = 8; // px kept from the viewport's edges

export function startReactions(list, messages, viewer) {
  const picker = document.getElementById("reaction-picker");
  const popover = picker && picker.hasAttribute("popover") ? picker : null;
  let opener = null; // the Add reaction button the picker was last opened from

  // The link (the react page, without JavaScript) as a button that opens the page's picker.
  function addButton(link) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "reaction-add link-button";
    button.setAttribute("popovertarget", popover.id);
    button.append(...link.childNodes);
    return button;
  }

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
    if (!viewer) add.remove();
    else if (popover && add.matches("a")) add.replaceWith(addButton(add));
    else add.hidden = false; // no picker here: the link leads to the react page
  }

  function say(form, text) {
    const box = form.closest(".reaction-picker") || form.closest(".reactions");
    const line = box && box.querySelector(":scope > .reaction-error");
    if (!line) return;
    line.textContent = text;
    line.hidden = !text;
  }

  // Below the button (above it when there is no room below), inside the viewport. Fixed, as every
  // popover in the top layer, so it follows the button when the timeline scrolls.
  function place() {
    const li = document.getElementById(popover.dataset.message || "");
    const at = opener && opener.isConnected ? opener : li && li.querySelector(".reaction-add");
    if (!at || !popover.matches(":popover-open")) return;
    const anchor = at.getBoundingClientRect();
    const box = popover.getBoundingClientRect();
    const width = document.documentElement.clientWidth;
    const height = document.documentElement.clientHeight;
    let top = anchor.bottom + GAP;
    if (top + box.height > height - MARGIN && anchor.top - GAP - box.height >= MARGIN) top = anchor.top - GAP - box.height;
    top = Math.max(MARGIN, Math.min(top, height - MARGIN - box.height));
    const left = Math.max(MARGIN, Math.min(anchor.left, width - MARGIN - box.width));
    popover.style.top = `${Math.round(top)}px`;
    popover.style.left = `${Math.round(left)}px`;
  }

  // Aim the picker at the message whose Add reaction was clicked: its forms react to that message.
  function aim(li, button) {
    if (popover.dataset.message !== li.id) { // another message: what was typed or said was for the last one
      popover.querySelectorAll("form.reaction-form").forEach((form) => { say(form, ""); form.reset(); });
    }
    popover.dataset.message = li.id;
    popover.querySelectorAll("form.reaction-form").forEach((form) => {
      form.elements.author.value = li.dataset.author || "";
      form.elements.sk.value = li.dataset.pos || "";
    });
    opener = button;
  }

  list.querySelectorAll("li.message").forEach(apply);
  // Every way a message arrives or changes (a live post or change, an older or newer page, this
  // module's own answers) puts an li into the list.
  new MutationObserver((records) => {
    records.forEach((record) => record.addedNodes.forEach((node) => {
      if (node instanceof Element && node.matches("li.message")) apply(node);
    }));
  }).observe(list, { childList: true });

  if (popover) {
    // Before the button's popovertarget acts (after this click's listeners): open at another
    // message, the picker closes so that the button opens it again, there.
    list.addEventListener("click", (event) => {
      const button = event.target instanceof Element && event.target.closest("button.reaction-add");
      const li = button && button.closest("li.message");
      if (!li) return;
      if (popover.matches(":popover-open")) {
        if (button === opener) return; // the button closes it
        popover.hidePopover();
      }
      aim(li, button);
    });
    const follow = () => place();
    popover.addEventListener("beforetoggle", (event) => {
      if (event.newState === "open") {
        requestAnimationFrame(place); // laid out by then, and placed before it is painted
        document.addEventListener("scroll", follow, { capture: true, passive: true });
        window.addEventListener("resize", follow);
      } else {
        document.removeEventListener("scroll", follow, { capture: true });
        window.removeEventListener("resize", follow);
      }
    });
  }

  function configure(event) {
    const form = event.detail.elt;
    if (!isReactionForm(form)) return;
    const button = form.querySelector("button.reaction");
    // The state wanted, from what the viewer sees now: never a blind toggle.
    if (button) event.detail.parameters.on = button.getAttribute("aria-pressed") === "true" ? "0" : "1";
  }

  function answered(event) {
    const form = source(event);
    if (!isReactionForm(form) || !event.detail.successful) return;
    const fromPicker = Boolean(popover) && popover.contains(form);
    const li = fromPicker ? document.getElementById(popover.dataset.message || "") : form.closest("li.message");
    const sent = (event.detail.requestConfig && event.detail.requestConfig.parameters) || {};
    const hadFocus = (li && li.contains(document.activeElement)) || (fromPicker && popover.contains(document.activeElement));
    say(form, "");
    if (fromPicker && popover.matches(":popover-open")) popover.hidePopover();
    if (form.matches(".reaction-typed")) form.reset();
    messages.merge(parseHtml(event.detail.xhr.responseText));
    // Keep the keyboard on this emoji's button, whether this answer or the live stream (which may
    // come first) replaced the li. Queued after the merge's own focus keeping, which would put it
    // back on Add reaction, where the closing picker left it.
    if (!hadFocus || !li) return;
    queueMicrotask(() => {
      const now = document.getElementById(li.id);
      if (!now) return;
      const target = [...now.querySelectorAll(".reactions form.reaction-form")]
        .find((f) => f.elements.emoji && f.elements.emoji.value === sent.emoji);
      const focusable = target ? target.querySelector("button") : now.querySelector(".reaction-add");
      if (focusable) focusable.focus();
    });
  }

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

  // The picker is outside the list: its forms' events are heard on it.
  [list, popover].filter(Boolean).forEach((box) => {
    box.addEventListener("htmx:configRequest", configure);
    box.addEventListener("htmx:afterRequest", answered);
    ["htmx:responseError", "htmx:sendError", "htmx:timeout"].forEach((name) => box.addEventListener(name, failed));
  });
}
