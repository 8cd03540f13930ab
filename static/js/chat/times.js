// Times in the reader's own zone. The server renders <time datetime="…Z"> in UTC, which is what
// readers without JavaScript see. The day is in the divider above (layout.js), so a message
// shows its time of day, with the full date in its tooltip.

const timeOnly = new Intl.DateTimeFormat(undefined, { hour: "numeric", minute: "2-digit" });
const dateAndTime = new Intl.DateTimeFormat(undefined, { dateStyle: "full", timeStyle: "short" });

export function localizeTimes(root) {
  root.querySelectorAll("time[datetime]:not([data-local])").forEach((el) => {
    const when = new Date(el.getAttribute("datetime"));
    if (isNaN(when.getTime())) return;
    el.textContent = timeOnly.format(when);
    el.title = dateAndTime.format(when);
    el.dataset.local = "1";
  });
}
