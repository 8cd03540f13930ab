/* The header's search through htmx (templates/base.html, rooms.views.search_page). Two things htmx
 * cannot do alone: keep the title's unread count (the sidebar's, kept live by sidebar-live.js; the
 * results come without it) on the title the answer brings, and, when it cannot show an answer (a
 * server error, which it does not swap, or no connection), open the search page itself so the
 * browser shows what happened instead of nothing. A refused query (400) and a throttled one (429)
 * are swapped in with their message. No inline script: the CSP is script-src 'self'.
 */
const SHOWN = new Set([400, 429]);
const TITLE_COUNT = /^\(\d+\+?\) /; // as sidebar-live.js writes it
let count = "";

// Whether htmx's event is about a search: the element that made the request (event.detail.elt is
// where the event was dispatched: the swap's target for beforeSwap and afterSettle).
function searching(event) {
  const elt = event.detail.requestConfig ? event.detail.requestConfig.elt : event.detail.elt;
  return Boolean(elt && elt.closest && (elt.closest(".site-search") || elt.matches("#older-results")));
}

function fallBack(event) {
  if (!searching(event)) return;
  if (event.detail.xhr && SHOWN.has(event.detail.xhr.status)) return;
  window.location.assign(event.detail.pathInfo.finalRequestPath);
}

document.body.addEventListener("htmx:responseError", fallBack);
document.body.addEventListener("htmx:sendError", fallBack);
document.body.addEventListener("htmx:beforeSwap", (event) => {
  if (searching(event)) count = (document.title.match(TITLE_COUNT) || [""])[0];
});
document.body.addEventListener("htmx:afterSettle", (event) => {
  if (searching(event) && count && !TITLE_COUNT.test(document.title)) document.title = count + document.title;
});
