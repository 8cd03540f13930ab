// Reply: a message's "Reply" is a plain link to its thread view (where a composer replies to the
// thread's root); with this module a click puts the room's composer in reply mode instead:
// "Replying to <name>: <first line, as plain text>" above it, with Cancel reply, and the hidden
// reply_to field set to the message's "<author id>/<SK>", which the post carries. A post that went through, or Cancel
// reply, ends reply mode; a refused reply comes back with reply_to emptied by the server (out of
// band), which ends it too. One listener on the list, so older, newer and live messages need
// nothing more.

export function startReplies(list, form) {
  const textarea = form.querySelector("textarea");
  const field = () => form.querySelector("input[name=reply_to]"); // swapped out of band: look it up
  const banner = () => document.getElementById("composer-reply");

  // The message box is described by the banner while replying, so a screen reader says what it answers.
  function describe(on) {
    const ids = (textarea.getAttribute("aria-describedby") || "").split(" ").filter((id) => id && id !== "composer-reply-text");
    if (on) ids.push("composer-reply-text");
    if (ids.length) textarea.setAttribute("aria-describedby", ids.join(" "));
    else textarea.removeAttribute("aria-describedby");
  }

  function cancel() {
    const input = field();
    if (input) input.value = "";
    const box = banner();
    if (box) box.hidden = true;
    describe(false);
  }

  function reply(link) {
    const li = link.closest("li.message");
    const input = field();
    const box = banner();
    if (!li || !input || !box) return false;
    input.value = link.dataset.replyTo;
    box.querySelector(".composer-reply-name").textContent = link.dataset.replyName || "";
    // The server's excerpt (rooms.services.reply_excerpt), so the banner says what the quote will.
    box.querySelector(".composer-reply-excerpt").textContent = link.dataset.excerpt || "";
    box.hidden = false;
    describe(true);
    textarea.focus();
    return true;
  }

  list.addEventListener("click", (event) => {
    const link = event.target.closest("a.reply-link");
    if (!link || event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) return;
    if (reply(link)) event.preventDefault(); // else: the thread view, as without JavaScript
  });
  form.addEventListener("click", (event) => {
    if (event.target.closest(".composer-reply-cancel")) {
      cancel();
      textarea.focus();
    }
  });
  textarea.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !banner().hidden && !event.defaultPrevented) cancel();
  });
  document.body.addEventListener("htmx:afterRequest", (event) => {
    const elt = event.detail.requestConfig ? event.detail.requestConfig.elt : event.detail.elt;
    if (elt !== form) return;
    const input = field();
    if (event.detail.successful || (input && !input.value)) cancel();
  });
}
