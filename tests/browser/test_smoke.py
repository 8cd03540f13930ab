"""The real stack in a real browser: Chromium → gunicorn → dynalite."""


def test_home_page_loads_htmx_under_csp_without_errors(site, new_context, page_errors):
    page = page_errors(new_context().new_page())
    page.goto(site.url + "/")
    assert page.locator("h1").inner_text() == "Rooms"
    assert page.evaluate("typeof window.htmx") == "object"
    assert page_errors.errors == []
