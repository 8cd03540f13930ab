// The "Your rooms" sidebar: on a phone it folds behind a "Rooms" button (without JavaScript it
// is a plain list after the conversation), and Alt+ArrowUp / Alt+ArrowDown go to the previous /
// next room in it. The next page says where the reader arrived ("Now in <room>") in a live region.

const ARRIVED = "chat:arrived-by-keyboard";

export function startSidebar(sidebar, announcer) {
  const toggle = sidebar.querySelector("#sidebar-toggle");
  const nav = sidebar.querySelector("nav");

  function setOpen(open) {
    sidebar.classList.toggle("is-open", open);
    toggle.setAttribute("aria-expanded", String(open));
  }
  if (toggle && nav) {
    sidebar.classList.add("is-collapsible");
    toggle.hidden = false;
    toggle.addEventListener("click", () => setOpen(toggle.getAttribute("aria-expanded") !== "true"));
    sidebar.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && sidebar.classList.contains("is-open")) {
        setOpen(false);
        toggle.focus();
      }
    });
  }

  document.addEventListener("keydown", (event) => {
    if (!event.altKey || event.ctrlKey || event.metaKey || event.shiftKey) return;
    if (event.key !== "ArrowUp" && event.key !== "ArrowDown") return;
    const links = Array.from(sidebar.querySelectorAll(".sidebar-entry a"));
    if (!links.length) return;
    event.preventDefault();
    const current = links.findIndex((a) => a.getAttribute("aria-current") === "page");
    const step = event.key === "ArrowUp" ? -1 : 1;
    // From a room that is not in the list, ArrowDown goes to the first and ArrowUp to the last.
    const next = current === -1 ? (step === 1 ? 0 : links.length - 1) : (current + step + links.length) % links.length;
    if (next === current) return;
    try { window.sessionStorage.setItem(ARRIVED, "1"); } catch (e) { /* storage off: no announcement */ }
    window.location.assign(links[next].href);
  });

  let arrived = false;
  try {
    arrived = window.sessionStorage.getItem(ARRIVED) === "1";
    window.sessionStorage.removeItem(ARRIVED);
  } catch (e) { /* storage off */ }
  if (arrived && announcer) {
    const heading = document.querySelector("h1");
    // A moment after load, so screen readers have registered the live region before it changes.
    window.setTimeout(() => { announcer.textContent = "Now in " + (heading ? heading.textContent.trim() : document.title); }, 250);
  }
}
