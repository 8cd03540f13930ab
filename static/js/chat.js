/* The room page: merges HTMX responses (live updates, posts, older pages) into the message list.
 *
 * No inline script and no eval (the CSP is script-src 'self'; htmx runs with allowEval=false):
 * htmx does the requests, this file supplies the live-update cursor and does the merging.
 * The cursor protocol is described in docs/live-updates.md.
 */
(function () {
  "use strict";

  const room = document.getElementById("room");
  const list = document.getElementById("messages");
  if (!room || !list || !window.htmx) return;

  const poller = document.getElementById("live");
  const composer = document.getElementById("composer");
  const textarea = composer && composer.querySelector("textarea");
  const keyInput = composer && composer.querySelector("input[name=idempotency_key]");
  const composerErrors = document.getElementById("composer-errors");
  const announcer = document.getElementById("announcer");
  const liveStatus = document.getElementById("live-status");
  const viewer = room.dataset.viewer || "";
  const viewerIsStaff = room.dataset.viewerStaff === "1";

  const overlapMs = poller ? Number(poller.dataset.overlapMs) || 10000 : 10000;
  // The watermark is "<ms>.<signature>", signed by the server for this room: sent back as is.
  let watermark = poller ? poller.dataset.watermark || "" : "";
  const MAX_SEEN = 120; // keeps the poll URL short; anything left out is deduplicated by DOM id
  const deletions = new Map(); // message id -> deletion time (ms): never re-add a deleted message
  let failures = 0;
  let pausedUntil = 0;
  let sendingText = null; // what the composer held when the current post left

  // --- time ------------------------------------------------------------------------------------
  const timeOnly = new Intl.DateTimeFormat(undefined, { hour: "numeric", minute: "2-digit" });
  const dateAndTime = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

  function localizeTimes(root) {
    const today = new Date().toDateString();
    root.querySelectorAll("time[datetime]:not([data-local])").forEach(function (el) {
      const when = new Date(el.getAttribute("datetime"));
      if (isNaN(when.getTime())) return;
      el.textContent = (when.toDateString() === today ? timeOnly : dateAndTime).format(when);
      el.title = dateAndTime.format(when);
      el.dataset.local = "1";
    });
  }

  // --- scrolling -------------------------------------------------------------------------------
  function atBottom() {
    return window.innerHeight + window.scrollY >= document.documentElement.scrollHeight - 80;
  }

  function scrollToBottom() {
    window.scrollTo(0, document.documentElement.scrollHeight);
  }

  // --- the list: ordered by (CreatedAt, id), one element per message id -------------------------
  function sortKey(li) {
    return [Number(li.dataset.at), li.id];
  }

  function sortsBefore(a, b) {
    return a[0] < b[0] || (a[0] === b[0] && a[1] < b[1]);
  }

  function revealDelete(li) {
    const form = li.querySelector(".delete-form[hidden]");
    if (!form) return;
    if (viewer && (viewerIsStaff || li.dataset.author === viewer)) form.hidden = false;
    else form.remove();
  }

  function insertMessage(li) {
    if (document.getElementById(li.id)) return false;
    if (deletions.has(li.id.slice(2))) return false;
    revealDelete(li);
    const key = sortKey(li);
    let node = list.lastElementChild;
    while (node && sortsBefore(key, sortKey(node))) node = node.previousElementSibling;
    list.insertBefore(li, node ? node.nextSibling : list.firstChild);
    localizeTimes(li);
    window.htmx.process(li);
    return true;
  }

  function applyDeletion(messageId, atMs) {
    deletions.set(messageId, atMs);
    const el = document.getElementById("m-" + messageId);
    if (el) el.remove();
  }

  function parse(xhr) {
    // DOMParser documents are inert: nothing in the response runs.
    return new DOMParser().parseFromString(xhr.responseText || "", "text/html");
  }

  function announce(added) {
    if (!announcer) return;
    const lines = added
      .filter(function (li) { return li.dataset.author !== viewer; })
      .map(function (li) {
        const author = li.querySelector(".author");
        const text = li.querySelector(".comment");
        const body = text ? text.textContent.trim() : "";
        return (author ? author.textContent : "Someone") + ": " + (body.length > 140 ? body.slice(0, 140) + "…" : body);
      });
    if (lines.length) announcer.textContent = lines.length > 3 ? lines.length + " new messages. " + lines.slice(-1)[0] : lines.join(". ");
  }

  function merge(doc, options) {
    const stayAtBottom = (options && options.scroll) || atBottom();
    const added = [];
    doc.querySelectorAll("li.message").forEach(function (node) {
      const li = document.importNode(node, true);
      if (insertMessage(li)) added.push(li);
    });
    doc.querySelectorAll("li.deletion").forEach(function (node) {
      applyDeletion(node.dataset.deleted, Number(node.dataset.at));
    });
    if (added.length) {
      const empty = document.getElementById("no-messages");
      if (empty) empty.remove();
      if (!(options && options.quiet)) announce(added);
    }
    if (stayAtBottom) scrollToBottom();
    return added;
  }

  // --- live updates: the cursor rides on every poll -----------------------------------------------
  function watermarkMs() {
    return Number(String(watermark).split(".")[0]) || 0;
  }

  function seenRefs() {
    const floor = watermarkMs() - overlapMs;
    const refs = [];
    for (let li = list.lastElementChild; li && refs.length < MAX_SEEN; li = li.previousElementSibling) {
      if (Number(li.dataset.at) <= floor) break;
      refs.push(li.id);
    }
    deletions.forEach(function (at, id) {
      if (at > floor && refs.length < MAX_SEEN) refs.push("d-" + id);
      else if (at < floor - 10 * overlapMs) deletions.delete(id);
    });
    return refs;
  }

  function setStatus(text) {
    if (liveStatus && liveStatus.textContent !== text) liveStatus.textContent = text;
  }

  function pollFailed(xhr) {
    const status = xhr ? xhr.status : 0;
    failures += 1;
    const backoff = Math.min(30000, 1000 * Math.pow(2, Math.min(failures, 5)));
    if (status === 400) { // the cursor was refused (e.g. the site's key changed): only a reload helps
      pausedUntil = Infinity;
      setStatus("Live updates stopped. Reload the page to see new messages.");
    } else if (status === 429) { // too many catch-ups from this network: wait as long as asked
      const retryAfter = Number(xhr.getResponseHeader("Retry-After")) || 30;
      pausedUntil = Date.now() + Math.max(backoff, retryAfter * 1000);
      setStatus("Live updates paused for " + Math.max(1, Math.round((pausedUntil - Date.now()) / 1000)) +
        " s: the server is busy with this network. Retrying…");
    } else {
      pausedUntil = Date.now() + backoff;
      setStatus("Live updates paused: can't reach the server. Retrying…");
    }
  }

  function pollSucceeded(xhr) {
    if (failures) {
      failures = 0;
      setStatus("");
    }
    if (xhr.status === 200) {
      const doc = parse(xhr);
      merge(doc);
    }
    const next = xhr.getResponseHeader("Chat-Watermark");
    if (next) watermark = next;
  }

  // --- composer -----------------------------------------------------------------------------------
  function showComposerError(xhr) {
    let messages = [];
    const status = xhr ? xhr.status : 0;
    if (status) {
      const doc = parse(xhr);
      const errors = doc.querySelector("[data-errors]");
      if (errors) {
        if (errors.dataset.nextKey && keyInput) {
          keyInput.value = errors.dataset.nextKey;
          keySentWith = null;
        }
        messages = Array.from(errors.querySelectorAll("p")).map(function (p) { return p.textContent; });
      } else {
        const p = doc.querySelector(".error-503, main p");
        if (p) messages = [p.textContent];
      }
    }
    if (!messages.length) {
      messages = [status === 0
        ? "Couldn't reach the server. Your message is kept: press Enter to try again."
        : "Your message was not sent (error " + status + "). It is kept: try again."];
    }
    composerErrors.replaceChildren.apply(composerErrors, messages.map(function (text) {
      const p = document.createElement("p");
      p.textContent = text;
      return p;
    }));
    textarea.setAttribute("aria-invalid", "true");
    textarea.focus();
  }

  function posted(xhr) {
    const doc = parse(xhr);
    const batch = doc.querySelector("ol[data-next-key]");
    if (batch && keyInput) keyInput.value = batch.dataset.nextKey; // a fresh key for the next message
    keySentWith = null;
    merge(doc, { scroll: true, quiet: true });
    // Clear only what was sent: anything typed while it was on its way stays in the composer.
    const sent = sendingText === null ? textarea.value : sendingText;
    textarea.value = textarea.value.startsWith(sent) ? textarea.value.slice(sent.length) : textarea.value;
    textarea.removeAttribute("aria-invalid");
    composerErrors.replaceChildren();
    textarea.focus();
  }

  if (textarea) {
    textarea.addEventListener("keydown", function (event) {
      if (event.key !== "Enter" || event.shiftKey || event.isComposing || event.altKey || event.ctrlKey || event.metaKey) return;
      event.preventDefault();
      if (!composer.classList.contains("is-sending")) composer.requestSubmit();
    });
  }

  // --- older pages ----------------------------------------------------------------------------------
  function olderLoaded(link, xhr) {
    const doc = parse(xhr);
    const batch = doc.querySelector("ol[data-older-url]");
    const heightBefore = document.documentElement.scrollHeight;
    merge(doc, { quiet: true });
    window.scrollBy(0, document.documentElement.scrollHeight - heightBefore); // keep the reader's place
    const holder = link.closest(".load-older");
    const url = batch && batch.dataset.olderUrl;
    if (!url) {
      holder.textContent = "This is the start of the room.";
      return;
    }
    const next = document.createElement("a");
    next.href = url;
    next.setAttribute("hx-get", url);
    next.setAttribute("hx-swap", "none");
    next.textContent = link.textContent;
    holder.replaceChildren(next);
    window.htmx.process(next);
    next.focus();
  }

  // --- htmx events ------------------------------------------------------------------------------------
  // The idempotency key makes a resend of the SAME text exactly-once. If a send failed (or its
  // answer was lost) and the user then edits the text, the edit is a different message: it gets
  // a fresh key, so the server cannot answer it with the earlier text.
  let keySentWith = null;

  function freshKey() {
    const bytes = new Uint8Array(15);
    window.crypto.getRandomValues(bytes);
    return btoa(String.fromCharCode.apply(null, bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  document.body.addEventListener("htmx:configRequest", function (event) {
    if (event.detail.elt === composer && keyInput) {
      const text = textarea.value;
      if (keySentWith !== null && keySentWith !== text) {
        keyInput.value = freshKey();
        event.detail.parameters.idempotency_key = keyInput.value;
      }
      keySentWith = text;
      return;
    }
    if (event.detail.elt !== poller) return;
    event.detail.parameters.w = watermark;
    event.detail.parameters.seen = seenRefs().join(",");
  });

  document.body.addEventListener("htmx:beforeRequest", function (event) {
    const elt = event.detail.elt;
    if (elt === poller && Date.now() < pausedUntil) event.preventDefault();
    if (elt === composer) {
      composer.classList.add("is-sending");
      sendingText = textarea.value;
    }
  });

  document.body.addEventListener("htmx:afterRequest", function (event) {
    const elt = event.detail.elt;
    const xhr = event.detail.xhr;
    if (elt === composer) composer.classList.remove("is-sending");
    if (!event.detail.successful) return; // failures: htmx:responseError / htmx:sendError below
    if (elt === poller) pollSucceeded(xhr);
    else if (elt === composer) posted(xhr);
    else if (elt.matches(".delete-form")) {
      const li = elt.closest("li.message");
      if (li) applyDeletion(li.id.slice(2), Date.now());
    } else if (elt.closest(".load-older")) olderLoaded(elt, xhr);
  });

  function failed(event) {
    const elt = event.detail.elt;
    const xhr = event.detail.xhr;
    if (elt === poller) pollFailed(event.type === "htmx:responseError" ? xhr : null);
    else if (elt === composer) showComposerError(event.type === "htmx:responseError" ? xhr : null);
    else setStatus("That didn't work (" + (xhr && xhr.status ? "error " + xhr.status : "no connection") + "). Try again.");
  }

  ["htmx:responseError", "htmx:sendError", "htmx:timeout"].forEach(function (name) {
    document.body.addEventListener(name, failed);
  });

  localizeTimes(document);
  if (poller) scrollToBottom();
})();
