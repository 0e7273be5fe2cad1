"""Fixtures of the security tests."""

from tests.reliability.harness import shared_db

__all__ = ["shared_db"]
