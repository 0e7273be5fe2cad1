"""Fixtures of the web app tests: a scriptable model service on a real socket."""

from tests.support.fake_model import _fake_server, dead_model, fake_model  # noqa: F401
