from chatsite import counters


def test_hit_counts_per_window_and_resets_in_next(moto_tables):
    for expected in (1, 2, 3):
        window = counters.hit(scope="t", subject="u", window_seconds=60, limit=2, now=120.0)
        assert window.count == expected
    assert window.exceeded and window.retry_after == 60
    assert counters.peek(scope="t", subject="u", window_seconds=60, limit=2, now=150.0).count == 3
    assert counters.peek(scope="t", subject="u", window_seconds=60, limit=2, now=180.0).count == 0
    assert counters.hit(scope="t", subject="other", window_seconds=60, limit=2, now=120.0).count == 1
