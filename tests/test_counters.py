import pytest

from chatsite import counters, dynamodb


def test_reserve_counts_per_window_refuses_at_the_limit_and_resets_in_next(moto_tables):
    for expected in (1, 2):
        held = counters.reserve(scope="t", subject="u", window_seconds=60, limit=2, now=120.0)
        assert held.count == expected
    assert held.at_limit and held.retry_after == 60
    with dynamodb.count_calls() as calls, pytest.raises(counters.LimitReached) as full:
        counters.reserve(scope="t", subject="u", window_seconds=60, limit=2, now=150.0)
    assert calls == {"UpdateItem": 1} and full.value.retry_after == 30
    assert counters.reserve(scope="t", subject="u", window_seconds=60, limit=2, now=180.0).count == 1
    assert counters.reserve(scope="t", subject="other", window_seconds=60, limit=2, now=120.0).count == 1


def test_give_back_frees_the_slot_in_the_window_it_was_taken_from(moto_tables):
    first = counters.reserve(scope="t", subject="u", window_seconds=60, limit=1, now=170.0)
    with pytest.raises(counters.LimitReached):
        counters.reserve(scope="t", subject="u", window_seconds=60, limit=1, now=175.0)
    with dynamodb.count_calls() as calls:
        counters.give_back(first)  # even though, by now, a later window may have begun
    assert calls == {"UpdateItem": 1}
    assert counters.reserve(scope="t", subject="u", window_seconds=60, limit=1, now=179.0).count == 1
