// Day dividers and author groups, in the reader's time zone. The server renders both in UTC
// (rooms/templatetags/chat_layout.py) for readers without JavaScript; here each message is
// arranged from the one before it, so an inserted or removed message only needs itself and its
// next neighbour redone.

const GROUP_WITHIN_MS = 5 * 60 * 1000;
const DAY_MS = 24 * 60 * 60 * 1000;

const sameYear = new Intl.DateTimeFormat(undefined, { weekday: "long", month: "long", day: "numeric" });
const otherYear = new Intl.DateTimeFormat(undefined, { weekday: "long", month: "long", day: "numeric", year: "numeric" });

function localDay(ms) {
  const d = new Date(ms);
  return new Date(d.getFullYear(), d.getMonth(), d.getDate());
}

function isoDay(day) {
  const pad = (n) => String(n).padStart(2, "0");
  return day.getFullYear() + "-" + pad(day.getMonth() + 1) + "-" + pad(day.getDate());
}

export function dayLabel(day, now = new Date()) {
  const today = localDay(now.getTime());
  // Rounded: a day with a daylight-saving change is 23 or 25 hours long.
  const daysAgo = Math.round((today - day) / DAY_MS);
  if (daysAgo === 0) return "Today";
  if (daysAgo === 1) return "Yesterday";
  return (day.getFullYear() === today.getFullYear() ? sameYear : otherYear).format(day);
}

function previousMessage(li) {
  let node = li.previousElementSibling;
  while (node && !node.matches("li.message")) node = node.previousElementSibling;
  return node;
}

// Sets li's divider (present on the first message of a local day) and its grouping.
export function arrange(li) {
  if (!li || !li.matches("li.message")) return;
  const at = Number(li.dataset.at);
  const day = localDay(at);
  const before = previousMessage(li);
  const newDay = !before || localDay(Number(before.dataset.at)).getTime() !== day.getTime();
  const continued = !newDay && before.dataset.author === li.dataset.author &&
    at - Number(before.dataset.at) <= GROUP_WITHIN_MS;
  li.toggleAttribute("data-continued", continued);

  let divider = li.querySelector(":scope > .day-divider");
  if (!newDay) {
    if (divider) divider.remove();
    return;
  }
  if (!divider) {
    divider = document.createElement("h2");
    divider.className = "day-divider";
    li.insertBefore(divider, li.firstChild);
  }
  divider.dataset.day = isoDay(day); // a heading, not a <time>: a message holds one <time>, its own
  divider.textContent = dayLabel(day);
}

export function arrangeAll(list) {
  list.querySelectorAll(":scope > li.message").forEach(arrange);
}

// Past midnight, "Today" becomes "Yesterday": relabel when the reader's date changes.
export function relabelAtMidnight(list) {
  let today = new Date().toDateString();
  window.setInterval(() => {
    const now = new Date().toDateString();
    if (now !== today) arrangeAll(list);
    today = now;
  }, 60 * 1000);
}
