"""The web UI in a real browser: headless Chromium (Debian's chromium + chromium-driver) via selenium.

Every page loads without console errors, every link on it resolves, the diff
page shows the changed fields of a known diff, the health plots are drawn;
a screenshot of each page is written under tests/artifacts/ui/ (ignored by git).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from live_server import SECRET, LiveServer, rich_repo, serving

CHROMIUM, DRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
ARTIFACTS = Path(__file__).resolve().parent / "artifacts" / "ui"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,1000",
]
PAGES = {
    "libraries": "/ui/",
    "library": "/ui/libraries/mapping",
    "version": "/ui/libraries/mapping/versions/v2",
    "diff": "/ui/diff?from=mapping@v1&to=mapping@v3",
    "diff-form": "/ui/diff",
    "drafts": "/ui/drafts",
    "draft": "/ui/drafts/steel-patterns",
    "health": "/ui/health",
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with serving(tmp_path_factory.mktemp("ui"), rich_repo) as live:
        yield live


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    if not (CHROMIUM.exists() and DRIVER.exists()):
        pytest.fail("needs Debian's chromium and chromium-driver (.ci/system-packages)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in [*FLAGS, f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=str(DRIVER)), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def visit(browser: Any, server: LiveServer, name: str, path: str) -> list[dict[str, Any]]:
    """Load a page, save its screenshot; the console messages it logged."""
    browser.get_log("browser")  # drop what earlier pages logged
    browser.get(server.url + path)
    height = browser.execute_script("return document.body.scrollHeight")
    browser.set_window_size(1280, max(800, min(int(height) + 40, 4000)))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / f"{name}.png"))
    return list(browser.get_log("browser"))


@pytest.mark.parametrize("name", list(PAGES))
def test_page_loads_without_console_errors_and_links_resolve(
    browser: Any, server: LiveServer, name: str
) -> None:
    logs = visit(browser, server, name, PAGES[name])
    assert "Canonry" in browser.title and "404" not in browser.title, browser.title
    assert [entry for entry in logs if entry["level"] in ("SEVERE", "ERROR")] == []
    assert SECRET not in browser.page_source  # the server serves no workspace
    hrefs = {a.get_attribute("href") for a in browser.find_elements("tag name", "a")}
    srcs = {i.get_attribute("src") for i in browser.find_elements("tag name", "img")}
    local = sorted(u for u in hrefs | srcs if u and u.startswith(server.url))
    assert local, "a page without links"
    for url in local[:60]:
        try:
            with urllib.request.urlopen(url, timeout=120) as response:  # a draft's gates run on first view
                assert response.status == 200, url
        except urllib.error.HTTPError as exc:
            raise AssertionError(f"{PAGES[name]} links to {url}: {exc.code}") from None


def test_the_diff_page_shows_the_changed_fields(browser: Any, server: LiveServer) -> None:
    with urllib.request.urlopen(f"{server.url}/diff?from=mapping@v1&to=mapping@v3", timeout=30) as response:
        doc = json.load(response)
    expected = {(r["entry_id"], r["path"]) for r in doc["libraries"]["mapping"]["changed_entries"]}
    assert ("/sector_code" in {p for _i, p in expected}) and len(expected) >= 5
    visit(browser, server, "diff", PAGES["diff"])
    shown = set()
    entry = ""
    for row in browser.find_elements("css selector", "table#changed tr.changed"):
        field = row.find_element("css selector", "td.field").text
        links = row.find_elements("css selector", "td a")
        entry = links[0].text if links else entry  # an entry's later rows share its first cell
        shown.add((entry, field))
    assert shown == expected
    removed = [li.text.split()[0] for li in browser.find_elements("css selector", "ul#removed li")]
    assert removed == doc["libraries"]["mapping"]["removed_entry_ids"]


def test_the_health_plots_are_drawn(browser: Any, server: LiveServer) -> None:
    visit(browser, server, "health", PAGES["health"])
    plots = browser.find_elements("css selector", "img.plot")
    assert len(plots) == 4
    for img in plots:
        width = browser.execute_script("return arguments[0].complete && arguments[0].naturalWidth", img)
        assert width and int(width) > 100, img.get_attribute("src")
    with urllib.request.urlopen(f"{server.url}/ui/health/holdout.svg", timeout=30) as response:
        svg = response.read().decode()
    assert "<svg" in svg and "mapping/v3" in svg and "<script" not in svg


def test_an_entry_page_explains_a_field(browser: Any, server: LiveServer) -> None:
    with urllib.request.urlopen(f"{server.url}/diff?from=mapping@v1&to=mapping@v3", timeout=30) as response:
        changed = json.load(response)["libraries"]["mapping"]["changed_entries"]
    row = next(r for r in changed if r["field"] == "sector_code")
    path = f"/ui/libraries/mapping/versions/v3/entries/{row['entry_id']}?field=sector_code"
    logs = visit(browser, server, "entry", path)
    assert [e for e in logs if e["level"] == "SEVERE"] == []
    history = browser.find_element("css selector", "table#history").text
    assert row["old"] in history and row["new"] in history
    explained = browser.find_element("css selector", "table#changes").text
    assert row["new"] in explained and "mapping/v2" in explained


def test_templates_mark_nothing_safe() -> None:
    folder = Path(__file__).resolve().parent.parent / "tooling" / "canonry" / "runtime" / "ui" / "templates"
    for template in folder.glob("*.html"):
        text = template.read_text(encoding="utf-8")
        assert "safe" not in text and "autoescape" not in text and "<script" not in text, template.name


def test_pages_escape_what_they_show(server: LiveServer) -> None:
    url = (
        server.url + "/ui/diff?from=" + urllib.parse.quote("<script>alert(1)</script>@v1") + "&to=mapping@v1"
    )
    try:
        urllib.request.urlopen(url, timeout=30)
    except urllib.error.HTTPError as exc:
        body = exc.read().decode()
        assert (
            exc.code == 400
            and "<script>" not in body
            and "&lt;script&gt;" in body
            or "LIBRARY@VERSION" in body
        )
    else:
        raise AssertionError("a bad diff spec was accepted")
