"""How a tab applies changes to messages (static/js/chat/merge.js), in Chromium on the real module
as the site serves it: a change replaces its message only over an older version, is never inserted
on its own, waits for a message that has not arrived yet (another host's feed may show the change
first) and keeps the message's place-bound marks (the permanent link's highlight)."""

from __future__ import annotations

from rooms import services

SCENARIOS = r"""
async () => {
  const main = document.querySelector('script[type="module"][src*="main"]').src;
  const source = await (await fetch(main)).text();
  const merge = await import(new URL(source.match(/from "(\.\/merge[^"]*)"/)[1], main).href);
  const ol = document.createElement("ol");
  ol.id = "test-list";
  document.body.append(ol);
  const list = merge.createMessageList(ol, () => {});
  const li = (id, version, text, extra = "") =>
    `<li class="message" id="m-${id}" data-at="1000" data-author="ann" data-version="${version}" ${extra}>` +
    `<div class="comment">${text}</div></li>`;
  const answer = (...items) => merge.parseHtml(`<ol>${items.join("")}</ol>`);
  const text = (id) => { const el = ol.querySelector("#m-" + id); return el ? el.querySelector(".comment").textContent : null; };
  const out = {};

  list.merge(answer(li("early", 2, "second version", 'data-update="2000"')));
  out.earlyBeforeItsMessage = text("early");
  list.merge(answer(li("early", 0, "as posted")));
  out.earlyAfterItsMessage = text("early");
  list.merge(answer(li("early", 1, "first version", 'data-update="1500"')));
  out.olderVersionLater = text("early");

  list.merge(answer(li("linked", 0, "as posted", 'data-linked aria-current="true"')));
  list.merge(answer(li("linked", 1, "reacted", 'data-update="1200"')));
  const linked = ol.querySelector("#m-linked");
  out.linkedKeepsItsMark = [linked.hasAttribute("data-linked"), linked.getAttribute("aria-current"), text("linked")];

  list.merge(answer(li("gone", 0, "as posted")));
  list.applyDeletion("gone", 3000);
  list.merge(answer(li("gone", 1, "changed", 'data-update="2500"')));
  out.deletedStaysGone = text("gone");

  list.merge(answer(li("same", 3, "version three")));
  list.merge(answer(li("same", 3, "another copy of three", 'data-update="1800"')));
  out.sameVersionOnce = text("same");
  out.count = ol.querySelectorAll("li.message").length;
  ol.remove();
  return out;
}
"""


def test_changes_apply_by_version_wait_for_their_message_and_keep_the_highlight(site, new_context, page_errors):
    services.room_create(name="Merge", created_by="alice")
    page = page_errors(new_context().new_page())
    page.goto(site.url + "/rooms/merge/")
    out = page.evaluate(SCENARIOS)
    assert out["earlyBeforeItsMessage"] is None  # a change alone is never inserted
    assert out["earlyAfterItsMessage"] == "second version"  # ... but applied once its message arrives
    assert out["olderVersionLater"] == "second version"
    assert out["linkedKeepsItsMark"] == [True, "true", "reacted"]
    assert out["deletedStaysGone"] is None
    assert out["sameVersionOnce"] == "version three"
    assert out["count"] == 3
    assert page_errors.errors == []
