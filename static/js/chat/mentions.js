// @mentions on the room page.
//
// 1. Typing "@" in the composer offers the room's members whose username or display name starts
//    with what follows it: a listbox (role=listbox, role=option) below the text, the textarea
//    pointing at the active option with aria-activedescendant (focus stays in the text, as screen
//    readers expect), aria-expanded and aria-controls. ArrowDown/ArrowUp move, Enter or Tab picks,
//    Escape closes. The options are an HTML fragment from GET <data-suggest-url>?q= (the server
//    escapes the names).
// 2. The reader's own mentions are marked (class "mention-me" on the message and the link): the
//    server renders one HTML for every viewer (a live fragment is rendered once per room), and the
//    message says whom it mentions in data-mentions / data-mentions-room.

// "@" then the start of a name, right before the caret (letters of any script, as usernames allow).
const QUERY = /(?:^|[^\p{L}\p{N}_@.\-])@([\p{L}\p{N}\p{M}_.\-]{0,30})$/u;
const WAIT_MS = 120; // typing pauses this long before asking

export function startMentions(form) {
  const textarea = form && form.querySelector("textarea");
  const list = document.getElementById("mention-suggestions");
  const url = form && form.dataset.suggestUrl;
  if (!textarea || !list || !url) return null;

  textarea.setAttribute("aria-autocomplete", "list");
  textarea.setAttribute("aria-controls", list.id);
  textarea.setAttribute("aria-expanded", "false");
  let active = -1;
  let timer = null;
  let controller = null;
  let asked = ""; // the query whose answer is wanted
  let dismissed = null; // Escape: stays closed until the text before the caret changes

  function options() {
    return Array.from(list.querySelectorAll("[role=option]"));
  }

  function setActive(index) {
    const all = options();
    active = all.length ? (index + all.length) % all.length : -1;
    all.forEach((option, i) => option.setAttribute("aria-selected", String(i === active)));
    if (active >= 0) {
      textarea.setAttribute("aria-activedescendant", all[active].id);
      all[active].scrollIntoView({ block: "nearest" });
    } else {
      textarea.removeAttribute("aria-activedescendant");
    }
  }

  function close() {
    list.hidden = true;
    list.replaceChildren();
    textarea.setAttribute("aria-expanded", "false");
    textarea.removeAttribute("aria-activedescendant");
    active = -1;
  }

  function isOpen() {
    return !list.hidden && options().length > 0;
  }

  function current() {
    const before = textarea.value.slice(0, textarea.selectionStart);
    if (textarea.selectionStart !== textarea.selectionEnd) return null;
    const match = QUERY.exec(before);
    return match ? { query: match[1], start: before.length - match[1].length - 1, before } : null;
  }

  function show(html, query) {
    if (query !== asked) return; // a newer question is on its way
    const template = document.createElement("template");
    template.innerHTML = html;
    const found = Array.from(template.content.querySelectorAll("[role=option]"));
    if (!found.length) return close();
    list.replaceChildren(...found);
    list.hidden = false;
    textarea.setAttribute("aria-expanded", "true");
    setActive(0);
  }

  function ask(query) {
    asked = query;
    if (controller) controller.abort();
    controller = new AbortController();
    fetch(url + "?q=" + encodeURIComponent(query), { credentials: "same-origin", signal: controller.signal,
                                                     headers: { Accept: "text/html" } })
      .then((response) => (response.ok ? response.text() : ""))
      .then((html) => show(html, query))
      .catch(() => {}); // aborted, or offline: no suggestions, typing goes on
  }

  function update() {
    const at = current();
    if (!at || (dismissed !== null && dismissed === at.before)) {
      if (!at) dismissed = null;
      window.clearTimeout(timer);
      asked = "";
      return close();
    }
    dismissed = null;
    window.clearTimeout(timer);
    timer = window.setTimeout(() => ask(at.query), WAIT_MS);
  }

  function pick(option) {
    const at = current();
    if (!option || !at) return close();
    const name = option.dataset.username;
    const after = textarea.value.slice(textarea.selectionStart);
    const inserted = "@" + name + (after.startsWith(" ") ? "" : " ");
    textarea.value = textarea.value.slice(0, at.start) + inserted + after;
    const caret = at.start + inserted.length + (after.startsWith(" ") ? 1 : 0);
    textarea.setSelectionRange(caret, caret);
    close();
    textarea.dispatchEvent(new Event("input", { bubbles: true })); // typing.js and friends
  }

  textarea.addEventListener("input", update);
  textarea.addEventListener("click", update);
  textarea.addEventListener("blur", () => window.setTimeout(close, 150)); // after a click on an option
  // The form's capture phase runs before the composer's Enter-sends on the textarea itself.
  form.addEventListener("keydown", (event) => {
    if (event.target !== textarea || !isOpen() || event.isComposing) return;
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      setActive(active + (event.key === "ArrowDown" ? 1 : -1));
    } else if ((event.key === "Enter" || event.key === "Tab") && !event.shiftKey && active >= 0) {
      pick(options()[active]);
    } else if (event.key === "Escape") {
      const at = current();
      dismissed = at ? at.before : null;
      close();
    } else {
      return;
    }
    event.preventDefault();
    event.stopPropagation();
  }, true);
  list.addEventListener("mousedown", (event) => event.preventDefault()); // keep the focus in the text
  list.addEventListener("click", (event) => {
    const option = event.target.closest("[role=option]");
    if (option) pick(option);
  });
  form.addEventListener("submit", close);
  return { close };
}

// Marks the messages that mention ``viewer`` (and, for a member, @room), now and as they arrive.
export function markMyMentions(list, viewer, { member = false } = {}) {
  if (!list || !viewer) return;
  function mark(li) {
    const mine = (li.dataset.mentions || "").split(" ").includes(viewer);
    const room = member && li.hasAttribute("data-mentions-room");
    if (!mine && !room) return;
    li.classList.add("mention-me");
    li.querySelectorAll(".mention").forEach((link) => {
      if (link.dataset.user === viewer || (room && link.classList.contains("mention-room"))) {
        link.classList.add("mention-me");
      }
    });
  }
  list.querySelectorAll("li.message").forEach(mark);
  new MutationObserver((records) => {
    records.forEach((record) => record.addedNodes.forEach((node) => {
      if (node.nodeType === 1 && node.matches("li.message")) mark(node);
    }));
  }).observe(list, { childList: true });
}
