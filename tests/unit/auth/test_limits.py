"""Rate limits: failed-login lockouts per key and token buckets, with injected time."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from realmkit.auth.limits import FailureLimiter, TokenBucket


def test_lockout_after_the_limit_until_the_window_passes() -> None:
    """Five failures in a minute lock the key until the first one is a minute old."""
    limiter = FailureLimiter(limit=5, window=60.0)
    for second in range(5):
        assert limiter.retry_after("thrall", now=float(second)) == 0
        limiter.failed("thrall", now=float(second))
    assert limiter.retry_after("thrall", now=10.0) == 50.0
    assert limiter.retry_after("jaina", now=10.0) == 0
    assert limiter.retry_after("thrall", now=60.0) == 0


def test_success_clears_the_failures() -> None:
    """A correct password forgets the earlier failures of that key."""
    limiter = FailureLimiter(limit=2, window=60.0)
    limiter.failed("k", 0.0)
    limiter.failed("k", 1.0)
    assert limiter.retry_after("k", 2.0) > 0
    limiter.succeeded("k")
    assert limiter.retry_after("k", 2.0) == 0


def test_memory_is_bounded() -> None:
    """An attacker cycling through names cannot grow the table past max_keys."""
    limiter = FailureLimiter(limit=3, window=60.0, max_keys=100)
    for n in range(1000):
        limiter.failed(f"name{n}", now=1.0)
    assert len(limiter._failures) == 100


@given(st.lists(st.floats(min_value=0, max_value=0.5), min_size=1, max_size=200))
def test_bucket_never_grants_more_than_rate_allows(gaps: list[float]) -> None:
    """Over any sequence of attempts, grants <= burst + rate * elapsed time."""
    bucket = TokenBucket(rate=20.0, burst=40.0, now=0.0)
    now, granted = 0.0, 0
    for gap in gaps:
        now += gap
        granted += bucket.take(now)
    assert granted <= 40 + 20.0 * now + 1e-9
