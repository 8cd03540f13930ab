/* The header's search through htmx (templates/base.html, rooms.views.search_page): when htmx cannot
 * show an answer (a server error, which it does not swap, or no connection), open the search page
 * itself, so the browser shows what happened instead of nothing. A refused query (400) and a
 * throttled one (429) are swapped in with their message: nothing to do. No inline script: the CSP
 * is script-src 'self'.
 */
const SHOWN = new Set([400, 429]);

function fallBack(event) {
  const elt = event.detail.elt;
  if (!elt || !(elt.closest(".site-search") || elt.matches("#older-results"))) return;
  if (event.detail.xhr && SHOWN.has(event.detail.xhr.status)) return;
  window.location.assign(event.detail.pathInfo.finalRequestPath);
}

document.body.addEventListener("htmx:responseError", fallBack);
document.body.addEventListener("htmx:sendError", fallBack);
