"""What the browser tests do on many pages: sign in, find a dashboard list, take screenshots."""

from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Locator, Page, expect

LAPTOP = {"width": 1366, "height": 900}
TABLET = {"width": 768, "height": 1024}

# The ``open_page`` fixture: a page in a fresh browser context, given ``new_context`` keywords.
OpenPage = Callable[..., Page]


def sign_in(page: Page, username: str, password: str) -> None:
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    # Returns once the next page has loaded, its scripts with it: htmx listens only from then on,
    # and a search typed before would go unheard.
    with page.expect_navigation(wait_until="load"):
        page.get_by_role("button", name="Sign in").click()


def worklist(page: Page, title: str) -> Locator:
    """A dashboard list, found by its heading; checked to be there, so that "not in it" means something."""
    region = page.get_by_role("region", name=title)
    expect(region).to_be_visible()
    return region


def page_width(page: Page) -> int:
    return page.evaluate("document.documentElement.scrollWidth")


def save_screenshots(page: Page, folder: Path, name: str) -> list[str]:
    """Saves the whole page at laptop and at tablet width; says at which widths it scrolls sideways.

    Wide tables may scroll inside their own box, but the page itself must fit the screen. The test
    asserts on the answer after taking all its screenshots, so that one bad page still leaves the
    pictures of the others to look at.
    """
    viewport = page.viewport_size
    too_wide = []
    for label, size in (("laptop", LAPTOP), ("tablet", TABLET)):
        page.set_viewport_size(size)
        page.screenshot(path=folder / f"{name}-{label}.png", full_page=True)
        if (width := page_width(page)) > size["width"]:
            too_wide.append(f"{name} is {width}px wide at {label} width ({size['width']}px)")
    if viewport:
        page.set_viewport_size(viewport)
    return too_wide
