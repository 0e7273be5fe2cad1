"""Security headers on every kind of answer, and a page that works under its strict CSP."""

import re

import pytest

pytestmark = pytest.mark.django_db

PATHS = ["/", "/api/version", "/admin/login/", "/no-such-page", "/api/no-such-api", "/health/live"]


def csp_directives(header: str) -> dict[str, list[str]]:
    directives = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            directives[words[0]] = words[1:]
    return directives


@pytest.mark.parametrize("path", PATHS)
def test_every_answer_carries_the_security_headers(client, path):
    response = client.get(path)
    assert response.status_code < 500
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"


def test_pages_have_a_strict_content_security_policy(client):
    csp = csp_directives(client.get("/")["Content-Security-Policy"])
    assert csp["default-src"] == ["'self'"]
    for directive in ("script-src", "style-src"):
        sources = csp.get(directive, csp["default-src"])
        assert sources == ["'self'"], (directive, sources)
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["form-action"] == ["'self'"]
    assert csp["base-uri"] == ["'self'"]
    assert "object-src" not in csp or csp["object-src"] == ["'none'"]


def test_the_page_needs_nothing_the_policy_forbids(client):
    """Inline scripts, inline styles and other origins would be blocked by the browser."""
    html = client.get("/").content.decode()
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "inline <script>"
    assert "<style" not in html, "inline <style>"
    assert not re.search(r"\sstyle=", html), "style attribute"
    assert not re.search(r"\son[a-z]+=", html), "inline event handler"
    assert not re.search(r'(src|href)="(https?:)?//', html), "resource from another origin"


def test_error_pages_do_not_leak_internals(client):
    page = client.get("/no-such-page")
    assert page.status_code == 404
    text = page.content.decode()
    assert "Traceback" not in text and "settings" not in text.lower()
    assert "Server" not in page.headers or "Django" not in page["Server"]
