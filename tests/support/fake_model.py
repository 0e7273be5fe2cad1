"""A scriptable model service on a real socket, for answers the real one never gives.

The fixtures are imported by the conftest of the tests that talk to it.
"""

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.support.servers import free_port


@dataclass
class Received:
    method: str
    path: str
    headers: dict
    body: bytes

    def json(self):
        return json.loads(self.body.decode("utf-8"))


def answer_json(status: int, payload) -> Callable:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()

    def respond(handler: "_Handler", received: Received) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    return respond


def answer_like_model(handler: "_Handler", received: Received) -> None:
    """A well-behaved model service: 'bad' anywhere in a review makes it negative."""
    if received.path == "/version":
        return answer_json(200, {"service": "sentiment-model", "model_version": "fake-1"})(
            handler, received
        )
    review = received.json()["review"]
    sentiment = "negative" if "bad" in review.lower() else "positive"
    answer_json(200, {"sentiment": sentiment, "confidence": 0.875, "model_version": "fake-1"})(
        handler, received
    )


def answer_slowly(seconds: float) -> Callable:
    def respond(handler: "_Handler", received: Received) -> None:
        time.sleep(seconds)
        answer_like_model(handler, received)

    return respond


def answer_as(variant: str) -> Callable:
    """A model that names itself ``variant`` in every answer: one positive result per review
    of a batch, or one for a single review."""

    def respond(handler: "_Handler", received: Received) -> None:
        result = {"sentiment": "positive", "confidence": 0.9}
        reviews = received.json().get("reviews")
        payload = {"results": [result] * len(reviews)} if reviews is not None else result
        naming = {"model_version": f"{variant}-1", "model_variant": variant}
        answer_json(200, payload | naming)(handler, received)

    return respond


def hang_up(handler: "_Handler", received: Received) -> None:
    """Read the request, then close the connection without a word."""
    handler.close_connection = True


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: "_Server"

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        received = Received(
            self.command,
            self.path,
            {k.lower(): v for k, v in self.headers.items()},
            self.rfile.read(length),
        )
        self.server.fake.received.append(received)
        self.server.fake.respond(self, received)

    do_GET = do_POST = _handle

    def log_message(self, *args) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: "FakeModelService"

    def handle_error(self, request, client_address) -> None:
        pass  # a client that gave up on a slow answer closes the socket: expected here


@dataclass
class FakeModelService:
    """A real HTTP server whose answers each test chooses (garbage, slowness, silence)."""

    port: int
    respond: Callable = answer_like_model
    received: list[Received] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def answer(self, status: int, payload) -> None:
        """Answer every request with this status and JSON value (or raw bytes)."""
        self.respond = answer_json(status, payload)

    def answer_slowly(self, seconds: float) -> None:
        self.respond = answer_slowly(seconds)

    def hang_up(self) -> None:
        self.respond = hang_up


@contextmanager
def running(respond: Callable = answer_like_model) -> Iterator[FakeModelService]:
    """A fake model service on a free loopback port, in a thread of its own."""
    server = _Server(("127.0.0.1", 0), _Handler)
    server.fake = FakeModelService(server.server_address[1], respond=respond)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.fake
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def two_models(settings) -> Iterator[dict[str, FakeModelService]]:
    """Model v1 and model v2 as two real HTTP servers, as `make run` serves them, each
    naming itself in its answers; the web app's settings point at them."""
    with running(answer_as("v1")) as v1, running(answer_as("v2")) as v2:
        settings.MODEL_SERVICE_URL = v1.url
        settings.MODEL_SERVICE_V2_URL = v2.url
        settings.MODEL_SERVICE_CONNECT_TIMEOUT = 0.5
        yield {"v1": v1, "v2": v2}


@pytest.fixture(scope="session")
def _fake_server() -> Iterator[FakeModelService]:
    with running() as fake:
        yield fake


@pytest.fixture
def fake_model(_fake_server, settings) -> FakeModelService:
    """The web app talks to the fake model service, with short timeouts."""
    fake = _fake_server
    fake.respond = answer_like_model
    fake.received.clear()
    settings.MODEL_SERVICE_URL = fake.url
    settings.MODEL_SERVICE_CONNECT_TIMEOUT = 0.5
    settings.MODEL_SERVICE_READ_TIMEOUT = 0.5
    return fake


@pytest.fixture
def dead_model(settings) -> str:
    """The web app talks to a port where nothing listens (connection refused)."""
    url = f"http://127.0.0.1:{free_port()}"
    settings.MODEL_SERVICE_URL = url
    settings.MODEL_SERVICE_CONNECT_TIMEOUT = 0.5
    return url
