// Copy link: a message's "Copy link" is a plain link to its permanent address (the room page around
// it); with this module a click copies that address instead of following it. Where the clipboard is
// refused (an insecure origin, a denied permission), the address is shown selected in a text field
// to copy by hand. One listener on the list, so older, newer and live messages need nothing more.

const SHOWN_MS = 2000;

export function startCopyLinks(list, announcer) {
  function say(text) {
    if (announcer) announcer.textContent = text;
  }

  function copied(link) {
    const label = link.firstChild; // the text node "Copy link"; the visually hidden rest stays
    link.dataset.copied = "";
    label.textContent = "Link copied";
    say("Link copied");
    clearTimeout(link.copyTimer);
    link.copyTimer = setTimeout(() => {
      label.textContent = "Copy link";
      delete link.dataset.copied;
    }, SHOWN_MS);
  }

  function showField(link, url) {
    let field = link.parentElement.querySelector(".copy-link-field");
    if (!field) {
      field = document.createElement("input");
      field.type = "text";
      field.readOnly = true;
      field.className = "copy-link-field";
      field.setAttribute("aria-label", "Link to this message");
      link.after(field);
    }
    field.value = url;
    field.focus();
    field.select();
    say("Copying was refused: the link is selected, copy it with your keyboard.");
  }

  list.addEventListener("click", (event) => {
    const link = event.target.closest("a.copy-link");
    if (!link || event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) return;
    event.preventDefault(); // modified clicks still open the link, as any link
    const url = new URL(link.getAttribute("href"), document.baseURI).href;
    if (!navigator.clipboard || !window.isSecureContext) {
      showField(link, url);
      return;
    }
    navigator.clipboard.writeText(url).then(() => copied(link), () => showField(link, url));
  });
}
