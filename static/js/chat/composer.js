// The composer. The server swaps in each fresh idempotency key and its own error messages
// (out of band, and HX-Retarget for 400/429); this keeps what only the page can: Enter sends
// (not during IME composition), text typed while a post is on its way stays, an edited resend
// gets a new key, and failures the server could not describe get a plain message.

import { parse } from "./merge.js";

function freshKey() {
  const bytes = new Uint8Array(15);
  window.crypto.getRandomValues(bytes);
  return btoa(String.fromCharCode.apply(null, bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function createComposer(form) {
  const textarea = form.querySelector("textarea");
  const errors = document.getElementById("composer-errors");
  let sendingText = null; // what the composer held when the current post left
  let lastSent = null; // { key, text } of the last post that left

  textarea.addEventListener("keydown", (event) => {
    if (event.key !== "Enter" || event.shiftKey || event.isComposing || event.altKey || event.ctrlKey || event.metaKey) return;
    event.preventDefault();
    if (!form.classList.contains("is-sending")) form.requestSubmit();
  });

  function failureText(xhr) {
    if (!xhr) return "Couldn't reach the server. Your message is kept: press Enter to try again.";
    // From layers that don't know this page (the 503 page of the middleware, CSRF): their words.
    const said = parse(xhr).querySelector(".error-503, main p");
    return said ? said.textContent : "Your message was not sent (error " + xhr.status + "). It is kept: try again.";
  }

  return {
    form,
    // Arriving, the reader can type at once; not on touch screens, where it would open the keyboard.
    focusOnArrival() {
      if (!window.matchMedia("(pointer: coarse)").matches) textarea.focus({ preventScroll: true });
    },
    configRequest(parameters) {
      // The idempotency key makes a resend of the SAME text exactly-once. If a send failed (or
      // its answer was lost) and the user then edits the text, the edit is a different message:
      // it gets a fresh key, so the server cannot answer it with the earlier text. A key the
      // server swapped in since was never sent, so it needs no such care.
      const key = form.querySelector("input[name=idempotency_key]");
      const text = textarea.value;
      if (lastSent !== null && lastSent.key === key.value && lastSent.text !== text) {
        key.value = freshKey();
        parameters.idempotency_key = key.value;
      }
      lastSent = { key: key.value, text };
    },
    sending() {
      form.classList.add("is-sending");
      sendingText = textarea.value;
    },
    done() {
      form.classList.remove("is-sending");
    },
    posted() {
      // Clear only what was sent: anything typed while it was on its way stays in the composer.
      const sent = sendingText === null ? textarea.value : sendingText;
      if (textarea.value.startsWith(sent)) textarea.value = textarea.value.slice(sent.length);
      textarea.removeAttribute("aria-invalid");
      textarea.focus();
    },
    failed(event) { // the text stays; say why
      if (event.detail.target !== errors) { // not already swapped in by the server
        const p = document.createElement("p");
        p.textContent = failureText(event.type === "htmx:responseError" ? event.detail.xhr : null);
        errors.replaceChildren(p);
      }
      textarea.setAttribute("aria-invalid", "true");
      textarea.focus();
    },
  };
}
