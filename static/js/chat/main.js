/* The room page. htmx makes every request, and the server says where its answers go (out-of-band
 * swaps, HX-Retarget). These modules do what htmx cannot: the ordered merge by (CreatedAt, id),
 * the live stream and the cursor and backoff of the polls it falls back to, Enter-to-send, scroll
 * keeping and "Jump to latest", the live announcer, local times, day dividers and author groups,
 * the sidebar, and desktop notifications.
 * No inline script and no eval: the CSP is script-src 'self' and htmx runs with allowEval=false.
 * docs/live-updates.md, "The browser", describes it.
 */
import { createAnnouncer } from "./announce.js";
import { createBackoff } from "./backoff.js";
import { startCopyLinks } from "./copy-link.js";
import { createComposer } from "./composer.js";
import { createCursor } from "./cursor.js";
import { startEditing } from "./edit.js";
import { createJump } from "./jump.js";
import { arrangeAll, relabelAtMidnight } from "./layout.js";
import { markMyMentions, startMentions } from "./mentions.js";
import { createMessageList, parse } from "./merge.js";
import { startDesktopButton, startNotifications } from "./notify.js";
import { revealDelete } from "./permissions.js";
import { startPresence } from "./presence.js";
import { startReactions } from "./reactions.js";
import { startReading } from "./read.js";
import { startReplies } from "./reply.js";
import { createScroller } from "./scroll.js";
import { startSidebar } from "./sidebar.js";
import { startLiveSidebar } from "./sidebar-live.js";
import { createStream } from "./stream.js";
import { localizeTimes } from "./times.js";
import { startTyping } from "./typing.js";

function start(room, list) {
  const poller = document.getElementById("live");
  const composerForm = document.getElementById("composer");
  const liveStatus = document.getElementById("live-status");
  const viewer = room.dataset.viewer || "";
  const deleteScope = room.dataset.deleteScope || "";

  const scroller = createScroller(document.getElementById("timeline"));
  const jump = createJump(document.getElementById("jump-latest"), scroller);
  const reading = startReading(room, list, scroller, { live: Boolean(poller) });
  const messages = createMessageList(list, (li) => {
    revealDelete(li, deleteScope);
    reading.prepare(li);
  });
  const announce = createAnnouncer(document.getElementById("announcer"), viewer);
  const composer = composerForm && createComposer(composerForm);

  function setStatus(text) {
    if (liveStatus && liveStatus.textContent !== text) liveStatus.textContent = text;
  }
  const backoff = createBackoff(setStatus);
  const cursor = poller && createCursor(poller, messages, backoff);

  // ``doc``: a parsed answer (a poll's, a post's, an older page, a stream's "updates" event).
  // ``newer``: a "load newer" page, added below where the reader is reading.
  function mergeAnswer(doc, { scroll = false, quiet = false, older = false, newer = false } = {}) {
    const stayAtBottom = scroll || (!newer && scroller.atBottom());
    const added = messages.merge(doc);
    if (added.length && !quiet) announce(added);
    if (stayAtBottom) scroller.toBottom();
    else if (!older && !newer) jump.arrived(added.length); // the view stays where the reader is
  }

  const stream = cursor && createStream(poller, cursor,
    { merge: (doc) => mergeAnswer(doc), setStatus, recovered: () => backoff.succeeded() });

  // The element that made the request. event.detail.elt is not always it: when the server
  // swaps the element out (the "load older" link), htmx reports to its nearest remaining parent.
  function source(event) {
    return event.detail.requestConfig ? event.detail.requestConfig.elt : event.detail.elt;
  }

  document.body.addEventListener("htmx:configRequest", (event) => {
    const elt = event.detail.elt;
    if (composer && elt === composer.form) composer.configRequest(event.detail.parameters);
    else if (cursor && elt === poller) cursor.addTo(event.detail.parameters);
  });

  document.body.addEventListener("htmx:beforeRequest", (event) => {
    const elt = source(event);
    if (cursor && elt === poller && (stream.holding() || cursor.renewingGrant() || backoff.paused())) {
      event.preventDefault(); // the stream delivers, a grant is being renewed, or backing off
    }
    if (composer && elt === composer.form) composer.sending();
  });

  document.body.addEventListener("htmx:afterRequest", (event) => {
    const elt = source(event);
    const xhr = event.detail.xhr;
    if (composer && elt === composer.form) composer.done();
    if (!event.detail.successful) return; // failures: below
    if (elt === poller) {
      backoff.succeeded();
      if (xhr.status === 200) mergeAnswer(parse(xhr));
      cursor.advance(xhr);
    } else if (composer && elt === composer.form) {
      mergeAnswer(parse(xhr), { scroll: true, quiet: true }); // the poster's message at once, from the POST
      composer.posted();
    } else if (elt.matches(".delete-form")) {
      const li = elt.closest("li.message");
      if (li) messages.applyDeletion(li.id.slice(2), Date.now());
    } else if (elt.matches("#load-older-link")) { // the next link came out of band already
      scroller.keepingPlace(() => mergeAnswer(parse(xhr), { quiet: true, older: true }));
    } else if (elt.matches("#load-newer-link")) {
      mergeAnswer(parse(xhr), { quiet: true, newer: true });
    } else if (elt.matches(".unread-form")) {
      const li = elt.closest("li.message");
      if (li) reading.markedUnread(li);
    }
  });

  function failed(event) {
    const elt = source(event);
    const xhr = event.type === "htmx:responseError" ? event.detail.xhr : null;
    if (cursor && elt === poller) {
      if (!cursor.grantExpired(xhr)) backoff.failed(xhr); // an expired grant is renewed, not backed off
    } else if (composer && elt === composer.form) composer.failed(event);
    else setStatus("That didn't work (" + (xhr ? "error " + xhr.status : "no connection") + "). Try again.");
  }
  ["htmx:responseError", "htmx:sendError", "htmx:timeout"].forEach((name) => {
    document.body.addEventListener(name, failed);
  });

  arrangeAll(list);
  localizeTimes(document);
  // Opened with unread messages: at the first of them (the server drew the line above it).
  const newMessages = document.getElementById("new-messages");
  // Opened at a message (?at=, its permanent link): at that message, or where it was if it is gone.
  const target = room.dataset.target && document.getElementById(room.dataset.target);
  if (target) scroller.reveal(target);
  else if (newMessages) scroller.reveal(newMessages);
  else if (poller) scroller.toBottom();
  relabelAtMidnight(list);
  if (composer) composer.focusOnArrival();
  markMyMentions(list, viewer, { member: room.hasAttribute("data-read-url") });
  startCopyLinks(list, document.getElementById("announcer"));
  startReactions(list, messages, viewer);
  startEditing(room, list, messages);
  if (composerForm) startMentions(composerForm);
  if (composerForm) startReplies(list, composerForm);
  const hereNow = document.getElementById("here-now");
  if (hereNow) startPresence(hereNow, composerForm);
  const typingLine = document.getElementById("typing");
  if (typingLine) startTyping(typingLine, composerForm);
  const sidebarBox = document.getElementById("sidebar");
  if (sidebarBox && poller) startLiveSidebar(sidebarBox, () => reading.readingNewest());
  const desktop = document.getElementById("desktop-notifications");
  if (desktop) startDesktopButton(desktop, document.getElementById("desktop-notifications-note"));
  if (poller) startNotifications(); // the stream's `notify` events (a signed-in user's stream carries them)
  if (stream) stream.start();
}

const sidebar = document.getElementById("sidebar");
if (sidebar) startSidebar(sidebar, document.getElementById("room-change"));
const room = document.getElementById("room");
const list = document.getElementById("messages");
if (room && list && window.htmx) start(room, list);
