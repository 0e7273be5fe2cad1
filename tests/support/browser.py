"""A real headless browser for end-to-end tests: Debian's chromium driven by Playwright."""

from concurrent.futures import Future, ThreadPoolExecutor

# Playwright cannot download its own browser here; the system's is driven instead. The
# background-networking flags keep it from reaching for hosts a closed network refuses.
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
DESKTOP = {"width": 1024, "height": 900}
PHONE = {"width": 390, "height": 844}


class Browser:
    """One headless chromium, driven from a thread of its own.

    Playwright's sync API keeps an event loop running in the thread that drives it, which
    Django's ORM refuses to share; a one-thread pool keeps every call on that same thread.
    """

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1)
        self._pool.submit(self._start).result(timeout=60)

    def _start(self) -> None:
        from playwright.sync_api import sync_playwright

        self._playwright = sync_playwright().start()
        self._browser = self._playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS
        )

    def submit(self, script, *, javascript: bool = True, phone: bool = False) -> Future:
        """``script(page)`` in a fresh context; a future of (its result, the page's errors)."""
        return self._pool.submit(self._run, script, javascript, phone)

    def run(self, script, *, javascript: bool = True, phone: bool = False):
        return self.submit(script, javascript=javascript, phone=phone).result(timeout=120)

    def _run(self, script, javascript: bool, phone: bool):
        errors: list[str] = []
        context = self._browser.new_context(
            java_script_enabled=javascript, viewport=PHONE if phone else DESKTOP
        )
        try:
            context.set_default_timeout(20_000)
            page = context.new_page()
            # CSP violations and script errors both end up here.
            page.on("console", lambda m: m.type == "error" and errors.append(m.text))
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            return script(page), errors
        finally:
            context.close()

    def close(self) -> None:
        def stop() -> None:
            self._browser.close()
            self._playwright.stop()

        self._pool.submit(stop).result(timeout=60)
        self._pool.shutdown()
