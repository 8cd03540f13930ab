"""Formatted messages on a phone: a code block stays monospaced and scrolls sideways inside itself,
never the page; block elements add no blank lines; the composer's Formatting help opens in place."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.support.browser import create_room, sign_up

PHONE = {"width": 360, "height": 740}
LONG_LINE = "const result = compute(" + ", ".join(f"argument_{n}" for n in range(30)) + ");"
TEXT = f"Here is *the fix*:\n```js\n{LONG_LINE}\nreturn result;\n```\nand `inline_code` after\n> a quoted _line_"


def test_a_long_code_block_scrolls_inside_itself_on_a_phone(site, new_context, page_errors):
    page = page_errors(new_context(viewport=PHONE, is_mobile=True, has_touch=True).new_page())
    sign_up(page, site.url, "cody", "Cody Code")
    create_room(page, site.url, "Snippets")

    composer = page.locator("#id_comment")
    composer.fill(TEXT)
    composer.press("Enter")
    message = page.locator("#messages li.message")
    expect(message).to_have_count(1)
    pre = message.locator(".comment pre")
    expect(pre).to_have_count(1)
    expect(message.locator(".comment strong")).to_have_text("the fix")
    expect(message.locator(".comment code").last).to_have_text("inline_code")
    expect(message.locator(".comment blockquote em")).to_have_text("line")

    font = pre.evaluate("element => getComputedStyle(element).fontFamily")
    assert "monospace" in font, font
    assert message.locator(".comment code").first.evaluate("element => getComputedStyle(element).fontFamily") == font
    sizes = pre.evaluate("element => [element.scrollWidth, element.clientWidth, element.getBoundingClientRect().right]")
    assert sizes[0] > sizes[1], f"the code block's line fits: nothing to scroll {sizes}"
    assert pre.evaluate("element => getComputedStyle(element).overflowX") == "auto"  # it scrolls itself
    assert sizes[2] <= PHONE["width"], f"the code block reaches past the screen: {sizes}"
    page_overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert page_overflow <= 0, f"the page is {page_overflow}px wider than the phone"
    list_sizes = page.locator("#messages").evaluate("element => [element.scrollWidth, element.clientWidth]")
    assert list_sizes[0] <= list_sizes[1], f"the message list scrolls sideways: {list_sizes}"

    # One line of text above the block, no empty line between: the block's top is about one line down.
    gaps = message.locator(".comment").evaluate("""comment => {
        const range = document.createRange();
        range.selectNodeContents(comment.firstChild);  // "Here is "
        const line = range.getBoundingClientRect().height;
        return [comment.querySelector('pre').getBoundingClientRect().top - comment.getBoundingClientRect().top, line];
    }""")
    assert 0 < gaps[0] < 1.5 * gaps[1], f"a blank line before the code block: {gaps}"

    # The pre scrolls: the end of the long line can be brought into view without moving the page.
    pre.evaluate("element => { element.scrollLeft = element.scrollWidth; }")
    assert pre.evaluate("element => element.scrollLeft") > 0
    assert page.evaluate("window.scrollX") == 0

    help_box = page.locator("details.formatting-help")
    expect(help_box.locator("table")).not_to_be_visible()
    help_box.locator("summary").click()
    expect(help_box.get_by_role("cell", name="*bold* or **bold**")).to_be_visible()
    expect(help_box.locator("td strong")).to_have_text("bold")
    page_overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert page_overflow <= 0, f"with the help open the page is {page_overflow}px wider than the phone"
    assert page_errors.errors == []
