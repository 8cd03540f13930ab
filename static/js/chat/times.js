// Times in the reader's own zone. The server renders <time datetime="…Z"> in UTC, which is what
// readers without JavaScript see.

const timeOnly = new Intl.DateTimeFormat(undefined, { hour: "numeric", minute: "2-digit" });
const dateAndTime = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

export function localizeTimes(root) {
  const today = new Date().toDateString();
  root.querySelectorAll("time[datetime]:not([data-local])").forEach((el) => {
    const when = new Date(el.getAttribute("datetime"));
    if (isNaN(when.getTime())) return;
    el.textContent = (when.toDateString() === today ? timeOnly : dateAndTime).format(when);
    el.title = dateAndTime.format(when);
    el.dataset.local = "1";
  });
}
