"""The admin UI in a real browser against a live api, collector and fake Spotify.

One walk through everything an admin does: log in, every page, pause and resume a user,
create a tool token, upload a real privacy export and watch the collector import it, read
every chart's pixels, log out. A screenshot of each page lands in test-artifacts/screenshots/.
"""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path

from playwright.async_api import Browser, ConsoleMessage, Page, Response, expect

from .conftest import ADMIN_PASSWORD, ADMIN_USERNAME, LiveSystem

# The real, anonymised extended-history sample the collector's import tests use too.
EXPORT = (
    Path(__file__).resolve().parents[4]
    / "services/collector/tests/imports/fixtures/extended-export-real-anonymised.zip"
)
IMPORT_DEADLINE_SECONDS = 180
CHARTS = (
    "top-artists",
    "top-tracks",
    "listening-day",
    "listening-week",
    "listening-month",
    "heatmap",
    "discoveries",
    "coverage",
)
# Counts a canvas's painted pixels, and those in colour (data marks, not grey axes and text).
PIXELS_JS = """(canvas) => {
  const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  let painted = 0, coloured = 0;
  for (let i = 0; i < data.length; i += 4) {
    if (data[i + 3] === 0) continue;
    painted++;
    const [r, g, b] = [data[i], data[i + 1], data[i + 2]];
    if (Math.max(r, g, b) - Math.min(r, g, b) > 40) coloured++;
  }
  return {painted, coloured, total: data.length / 4};
}"""


class PageRecorder:
    """Keeps script errors, CSP violations and failed UI responses; screenshots each page."""

    def __init__(self, page: Page, folder: Path, ui_url: str) -> None:
        self.page = page
        self.folder = folder
        self.ui_url = ui_url
        self.problems: list[str] = []
        self.shots: list[Path] = []
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        page.on("response", self._response)

    def _console(self, message: ConsoleMessage) -> None:
        # "Failed to load resource" lines are judged by their responses instead.
        if message.type in {"error", "warning"} and "Failed to load resource" not in message.text:
            self.problems.append(f"console {message.type}: {message.text}")

    def _response(self, response: Response) -> None:
        if not response.url.startswith(self.ui_url) or response.status < 400:
            return
        if response.status == 401 and response.url == f"{self.ui_url}/login":
            return  # the wrong password typed on purpose
        self.problems.append(f"{response.status} from {response.url}")

    async def shot(self, name: str) -> None:
        """A full-page screenshot, numbered in the order taken."""
        path = self.folder / f"{len(self.shots) + 1:02d}-{name}.png"
        await self.page.screenshot(path=str(path), full_page=True)
        self.shots.append(path)


class TestAdminUiInTheBrowser:
    async def test_an_admin_walks_through_every_page_and_action(
        self, live_system: LiveSystem, chromium: Browser, screenshots: Path
    ) -> None:
        context = await chromium.new_context(viewport={"width": 1400, "height": 1000})
        page = await context.new_page()
        page.set_default_timeout(20_000)
        recorder = PageRecorder(page, screenshots, live_system.frontend_url)
        try:
            await self._walk(page, recorder, live_system)
        except Exception as exc:
            await recorder.shot("failure")
            raise AssertionError(f"{exc}\n{live_system.log_tails()}") from exc
        finally:
            await context.close()
        assert recorder.problems == []  # CSP violations, script errors, failed UI requests
        assert len(recorder.shots) >= 12

    async def _walk(self, page: Page, recorder: PageRecorder, system: LiveSystem) -> None:
        ui = system.frontend_url

        # A listener connects their Spotify account (the fake approves at once).
        system.fake.state.switches.auto_approve_user_id = "demo"
        await page.goto(f"{system.api_url}/auth/login")
        await expect(page.get_by_text("Connected: Demo Listener")).to_be_visible()

        # Every page needs the login; the login page is where one lands.
        await page.goto(f"{ui}/users")
        await expect(page).to_have_url(re.compile(r"/login\?next=/users$"))
        await recorder.shot("login")
        await page.get_by_label("User name").fill(ADMIN_USERNAME)
        await page.get_by_label("Password").fill("not-the-password")
        await page.get_by_role("button", name="Log in").click()
        await expect(page.get_by_text("Wrong user name or password.")).to_be_visible()
        await page.get_by_label("User name").fill(ADMIN_USERNAME)
        await page.get_by_label("Password").fill(ADMIN_PASSWORD)
        await page.get_by_role("button", name="Log in").click()
        await expect(page).to_have_url(f"{ui}/users")
        cookies = await page.context.cookies(ui)
        session = next(cookie for cookie in cookies if cookie["name"] == "admin_session")
        assert session["httpOnly"] is True
        assert session["sameSite"] == "Lax"
        assert ADMIN_PASSWORD not in session["value"]

        # Users, then the listener's page.
        await expect(page.get_by_role("link", name="Demo Listener")).to_be_visible()
        await recorder.shot("users")
        await page.get_by_role("link", name="Demo Listener").click()
        await expect(page.get_by_role("heading", name=re.compile("Demo Listener"))).to_be_visible()
        user_url = page.url
        user_id = int(user_url.rsplit("/", 1)[1])
        await recorder.shot("user-detail")

        # Pause and resume through htmx (the CSRF token travels in a header).
        controls = page.locator("#user-controls")
        await controls.get_by_role("button", name="Pause").click()
        await expect(controls.get_by_text("Polling paused.")).to_be_visible()
        await expect(controls.locator(".badge-paused")).to_be_visible()
        await controls.get_by_role("button", name="Resume").click()
        await expect(controls.get_by_text("Polling resumed.")).to_be_visible()
        await expect(controls.locator(".badge-active")).to_be_visible()
        assert page.url == user_url  # fragments swapped, no navigation

        # A tool token, shown once.
        await page.locator('#tokens input[name="name"]').fill("Claude desktop")
        await page.get_by_role("button", name="Create token").click()
        token = await page.locator("#issued-token").input_value()
        assert token.startswith("smcp_")
        await recorder.shot("token-created")
        await page.get_by_role("link", name=re.compile("Back to")).click()
        await expect(page.get_by_role("cell", name="Claude desktop")).to_be_visible()
        assert token not in await page.content()

        # Upload a real export and watch the collector import it, live.
        await page.get_by_label("ZIP from Spotify").set_input_files(EXPORT)
        await page.get_by_role("button", name="Upload").click()
        await expect(page).to_have_url(re.compile(r"/imports/\d+$"))
        import_url = page.url
        progress = page.locator("#import-progress")
        await expect(progress.locator("progress")).to_be_visible()
        seen = await self._watch_import(page, system)
        assert seen[0] in {"pending", "running"}, seen
        assert seen[-1] in {"succeeded", "partial"}, seen
        assert page.url == import_url  # it finished on the page, without a reload
        await expect(progress.locator("progress")).to_have_attribute("value", "100.0")
        await recorder.shot("import-finished")

        # Every other page, with a screenshot of each.
        await page.get_by_role("link", name="Imports", exact=True).click()
        await expect(page.get_by_role("link", name=EXPORT.name)).to_be_visible()
        await recorder.shot("imports")

        await page.get_by_role("link", name="Jobs", exact=True).click()
        initial_sync = page.get_by_role("cell", name="initial sync", exact=True)
        await expect(initial_sync.first).to_be_visible()  # the listener's first back-fill
        await page.get_by_label("Type").select_option("poll")
        await page.get_by_role("button", name="Filter").click()
        await expect(page).to_have_url(re.compile(r"job_type=poll"))
        await expect(initial_sync).to_have_count(0)
        await recorder.shot("jobs")

        await page.get_by_role("link", name="Logs", exact=True).click()
        await expect(page.locator("#logs-table tbody tr").first).to_be_visible()
        async with page.expect_response(lambda response: "/partials/logs" in response.url):
            pass  # the table refreshes itself
        await page.get_by_label("Text").fill("import")
        await page.get_by_role("button", name="Filter").click()
        await expect(page).to_have_url(re.compile(r"text=import"))
        await recorder.shot("logs")

        await page.get_by_role("link", name="Dashboard", exact=True).click()
        await expect(page.get_by_role("heading", name="Sync health")).to_be_visible()
        await expect(page.locator("#dashboard").get_by_text(EXPORT.name)).to_be_visible()
        async with page.expect_response(lambda response: "/partials/dashboard" in response.url):
            pass  # the body refreshes itself
        await recorder.shot("dashboard")

        # Analytics: every chart drawn, over all time (the export goes back years).
        await page.get_by_role("link", name="Analytics", exact=True).click()
        await recorder.shot("analytics-users")
        await page.get_by_role("link", name="Demo Listener").click()
        await page.get_by_role("link", name="All time").click()
        await expect(page).to_have_url(f"{ui}/analytics/{user_id}?period=all")
        for chart in CHARTS:
            figure = page.locator(f"#chart-{chart}")
            await expect(figure).to_have_attribute("data-chart-state", "ready", timeout=30_000)
            canvas = figure.locator("canvas")
            await expect(canvas).to_have_attribute("data-drawn", "true")
            pixels = await canvas.evaluate(PIXELS_JS)
            assert pixels["painted"] > 0.01 * pixels["total"], (chart, pixels)
            assert pixels["coloured"] > 200, (chart, pixels)
        await recorder.shot("analytics")

        # Log out: the pages are closed again.
        await page.get_by_role("button", name="Log out").click()
        await expect(page).to_have_url(f"{ui}/login")
        await expect(page.get_by_text("You are logged out.")).to_be_visible()
        await page.goto(f"{ui}/")
        await expect(page).to_have_url(f"{ui}/login")
        await recorder.shot("logged-out")

    @staticmethod
    async def _watch_import(page: Page, system: LiveSystem) -> list[str]:
        """The import's statuses as the page showed them, until it ended."""
        seen: list[str] = []
        deadline = time.monotonic() + IMPORT_DEADLINE_SECONDS
        while not seen or seen[-1] in {"pending", "running"}:
            system.assert_running()
            if time.monotonic() > deadline:
                raise AssertionError(f"the import did not finish: {seen}")
            status = await page.locator("#import-progress").get_attribute("data-status")
            if status and (not seen or seen[-1] != status):
                seen.append(status)
            await asyncio.sleep(0.2)
        return seen
