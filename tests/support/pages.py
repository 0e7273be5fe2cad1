"""Checks that hold for every HTML page the project serves."""

import re


def assert_no_inline_code(html: str) -> None:
    """The CSP allows no inline script or style: every script has a src, nothing a style."""
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)
    assert "style=" not in html
    assert "<style" not in html
