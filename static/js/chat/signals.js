// What presence.js and typing.js share: a small form POST with the page's CSRF token (the one
// htmx sends, from the body's hx-headers), and the stream's signal events ("chat:live" on the
// document, dispatched by stream.js), whose HTML the server rendered.

function csrfToken() {
  try {
    return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRFToken"] || "";
  } catch (error) {
    return "";
  }
}

// ``keepalive``: the request outlives the page (pagehide). navigator.sendBeacon can't carry the
// CSRF header, so this is fetch's keepalive instead.
export function postSignal(url, fields, { keepalive = false } = {}) {
  return fetch(url, {
    method: "POST",
    credentials: "same-origin",
    keepalive,
    headers: { "X-CSRFToken": csrfToken() },
    body: new URLSearchParams(fields),
  });
}

export function onSignal(name, handle) {
  document.addEventListener("chat:live", (event) => {
    if (event.detail && event.detail.name === name) handle(event.detail.data);
  });
}

export function fragment(html) {
  const template = document.createElement("template");
  template.innerHTML = html;
  return template.content;
}
