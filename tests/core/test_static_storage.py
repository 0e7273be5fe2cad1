"""Static files under hashed names, served as immutable by a real web app (gunicorn), and
pages that still work when a file is missing from the manifest."""

import re
from pathlib import Path

import pytest
import requests

from tests.support.servers import REPO, start_server

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

HASHED = re.compile(r"\.[0-9a-f]{12}\.(?:js|css)$")


def static_links(html: str) -> list[str]:
    return re.findall(r'(?:src|href)="(/static/[^"]+\.(?:js|css))"', html)


def max_age(cache_control: str) -> int:
    match = re.search(r"max-age=(\d+)", cache_control)
    return int(match.group(1)) if match else 0


@pytest.fixture(scope="module")
def web(module_webapp):
    return module_webapp("static", {"REDIS_URL": "", "MODEL_SERVICE_URL": "http://127.0.0.1:9"})


@pytest.mark.parametrize("path", ["/", "/batch", "/admin/login/"])
def test_pages_link_hashed_names_served_as_immutable(web, path):
    page = requests.get(web.url + path, timeout=10)
    assert page.status_code == 200, page.text[:300]
    links = static_links(page.text)
    assert links, "the page links no static file"
    for link in links:
        assert HASHED.search(link), link
        asset = requests.get(web.url + link, timeout=10)
        assert asset.status_code == 200, link
        cache = asset.headers["Cache-Control"]
        assert "immutable" in cache and max_age(cache) >= 31_536_000, (link, cache)


def test_the_hashed_file_is_the_source_file(web):
    page = requests.get(web.url + "/", timeout=10)
    (script,) = [
        link for link in static_links(page.text) if re.search(r"/reviews/app\.\w+\.js", link)
    ]
    served = requests.get(web.url + script, timeout=10).content
    assert served == (REPO / "webapp/reviews/static/reviews/app.js").read_bytes()


def test_without_collectstatic_pages_still_work(module_database_url, tmp_path):
    """An empty STATIC_ROOT (no manifest): plain names, served from the apps, no 500."""
    empty = tmp_path / "not-collected"
    empty.mkdir()
    server = start_server(
        "webapp",
        tmp_path,
        {
            "DATABASE_URL": module_database_url,
            "REDIS_URL": "",
            "MODEL_SERVICE_URL": "http://127.0.0.1:9",
            "STATIC_ROOT": str(empty),
        },
    )
    try:
        page = requests.get(server.url + "/", timeout=10)
        assert page.status_code == 200, page.text[:300]
        links = static_links(page.text)
        assert "/static/reviews/app.js" in links
        for link in links:
            asset = requests.get(server.url + link, timeout=10)
            assert asset.status_code == 200, link
            assert "immutable" not in asset.headers.get("Cache-Control", "")
    finally:
        server.stop()
    assert "not in the manifest" in Path(server.log).read_text()
