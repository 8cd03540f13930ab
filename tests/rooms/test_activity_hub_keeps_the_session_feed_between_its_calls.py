"""The activity hub's thread runs the session feed's upkeep (keep_session_feed_current) at the top of
each round, during its pause when asked, and, once it asked to run, between a round's calls: a
round slowed by CPU load or a slow DynamoDB delays the session feed's refresh by one call at
most, not the rest of the round, so a page seldom finds the feed due (and when it does, it waits
for the hub: tests/accounts/test_session_feed_upkeep_is_waited_for.py)."""

from __future__ import annotations

from rooms import activity, selectors


def test_a_slow_round_runs_the_session_feeds_upkeep_between_its_calls():
    now = [0.0]
    calls: list[tuple[str, float]] = []

    def query(**_):
        calls.append(("query", now[0]))
        now[0] += 0.25  # each shard's Query: a round of 4 takes 1 s, all its interval
        return []

    def keep_session_feed():
        calls.append(("session", now[0]))
        return 0.375  # as keep_session_feed_current: again a while after its refresh

    hub = activity.ActivityHub(shards=4, interval=1.0, query=query, keep_session_feed=keep_session_feed,
                               renew_seqs=lambda: calls.append(("renew", now[0])), autostart=False,
                               monotonic=lambda: now[0], clock=lambda: int(now[0] * 1000),
                               seq_feed=selectors.SeqFeed(clock=lambda: now[0]), sleep=lambda _: hub.close())
    hub._refresh_loop()  # noqa: SLF001 - one round: its first sleep closes the hub
    assert calls[:8] == [("session", 0.0), ("query", 0.0), ("query", 0.25),
                         ("session", 0.5), ("query", 0.5), ("query", 0.75),
                         ("session", 1.0), ("renew", 1.0)], calls  # before: the session's upkeep at 0.0 only


def test_a_round_that_asks_nothing_of_the_session_feed_runs_it_once():
    now = [0.0]
    calls: list[str] = []

    def query(**_):
        now[0] += 0.25
        return []

    hub = activity.ActivityHub(shards=4, interval=1.0, query=query,
                               keep_session_feed=lambda: calls.append("session"),  # None: the cache is off
                               renew_seqs=lambda: None, autostart=False, monotonic=lambda: now[0],
                               clock=lambda: int(now[0] * 1000), seq_feed=selectors.SeqFeed(clock=lambda: now[0]),
                               sleep=lambda _: hub.close())
    hub._refresh_loop()  # noqa: SLF001
    assert calls == ["session"]
