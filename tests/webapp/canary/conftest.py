import pytest

from tests.webapp.batch.workers import TEST_REDIS_URL, flush_test_redis


@pytest.fixture
def redis_url() -> str:
    """The tests' own Redis database, emptied before and after each test."""
    flush_test_redis()
    yield TEST_REDIS_URL
    flush_test_redis()
