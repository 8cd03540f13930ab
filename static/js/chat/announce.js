// Screen readers hear messages from others (an aria-live="polite" region), not the reader's own.

const MAX_CHARS = 140;

export function createAnnouncer(region, viewer) {
  return function announce(added) {
    if (!region) return;
    const lines = added
      .filter((li) => li.dataset.author !== viewer)
      .map((li) => {
        const author = li.querySelector(".author");
        const text = li.querySelector(".comment");
        const body = text ? text.textContent.trim() : "";
        return (author ? author.textContent : "Someone") + ": " +
          (body.length > MAX_CHARS ? body.slice(0, MAX_CHARS) + "…" : body);
      });
    if (lines.length) {
      region.textContent = lines.length > 3 ? lines.length + " new messages. " + lines.slice(-1)[0] : lines.join(". ");
    }
  };
}
