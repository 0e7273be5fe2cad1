"""A real headless browser for end-to-end tests: Debian's chromium driven by Playwright."""

import json
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from devtools.servers import REPO

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
# axe-core from npm (deploy/tools/package.json, installed by `make test`).
AXE = REPO / "deploy" / "tools" / "node_modules" / "axe-core" / "axe.min.js"
AXE_BLOCKING = ("serious", "critical")
# Reports every CSP violation of the page as a console error the audit can tell apart.
CSP_PREFIX = "CSP violation:"
CSP_LISTENER = (
    "document.addEventListener('securitypolicyviolation', (e) => console.error("
    f"{json.dumps(CSP_PREFIX)} + ' ' + e.effectiveDirective + ' blocked ' + "
    "(e.blockedURI || 'inline') + ' in ' + document.location.pathname + ' at ' +"
    "(e.sourceFile || 'the page') + ':' + e.lineNumber + ' ' + (e.sample || '')));"
)


@dataclass
class Audit:
    """What went wrong in a page while a script drove it."""

    console: list[str] = field(default_factory=list)  # console errors and page errors
    violations: list[str] = field(default_factory=list)  # Content-Security-Policy
    failed: list[str] = field(default_factory=list)  # requests failed or answered >= 400

    def problems(self) -> list[str]:
        return [*self.console, *self.violations, *self.failed]


def check_accessibility(page, name: str, screenshots: Path) -> list[str]:
    """Saves a screenshot of the page as ``name``.png and runs axe-core on it; its serious and
    critical violations, each as a line naming the rule and the elements."""
    # caret="initial": hiding the caret would inject a <style> the page's CSP refuses.
    page.screenshot(path=str(screenshots / f"{name}.png"), full_page=True, caret="initial")
    # Evaluated, not added as a <script>: the page's CSP (rightly) refuses inline scripts, and
    # what the test tool runs must not show up as the page's own violation. No preload: axe
    # would copy the page's stylesheets into inline <style>s, which the CSP refuses too.
    page.evaluate(AXE.read_text())
    found = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations'], preload: false}))"
        ".violations"
        ".map(v => ({id: v.id, impact: v.impact, help: v.help,"
        " nodes: v.nodes.map(n => n.target.join(' '))}))"
    )
    return [
        f"{v['impact']} {v['id']}: {v['help']} ({', '.join(v['nodes'][:5])})"
        for v in found
        if v["impact"] in AXE_BLOCKING
    ]


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

    def audit(self, script, *, javascript: bool = True):
        """``script(page)`` in a fresh context, watched closely: (its result, an Audit)."""
        return self._pool.submit(self._audit, script, javascript).result(timeout=120)

    def _audit(self, script, javascript: bool):
        audit = Audit()
        context = self._browser.new_context(java_script_enabled=javascript, viewport=DESKTOP)
        try:
            context.set_default_timeout(20_000)
            context.add_init_script(CSP_LISTENER)
            page = context.new_page()

            def console(message) -> None:
                if message.type != "error":
                    return
                text = message.text
                if text.startswith(CSP_PREFIX) or "Content Security Policy" in text:
                    audit.violations.append(text)
                else:
                    audit.console.append(text)

            page.on("console", console)
            page.on("pageerror", lambda exc: audit.console.append(str(exc)))
            page.on(
                "requestfailed",
                lambda r: audit.failed.append(f"{r.method} {r.url}: {r.failure}"),
            )
            page.on(
                "response",
                lambda r: r.status >= 400 and audit.failed.append(f"{r.status} {r.url}"),
            )
            return script(page), audit
        finally:
            context.close()

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
