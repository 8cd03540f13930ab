"""Under gunicorn's gevent workers `queue.Queue` is gevent's, which has no `all_tasks_done`
condition: the indexer's flush at a graceful worker exit (gunicorn.conf.py's worker_exit) must wait
on what both queues have (their count of unfinished tasks), not on the stdlib's internals."""

from __future__ import annotations

import gevent.queue

from rooms import search_index


def test_flush_waits_on_a_gevent_queue_without_the_stdlibs_condition(monkeypatch):
    indexer = search_index.Indexer(apply=lambda change: None, maxsize=10)
    changes = gevent.queue.JoinableQueue()
    assert not hasattr(changes, "all_tasks_done")
    monkeypatch.setattr(indexer, "_queue", changes)
    changes.put("a change")
    assert indexer.flush(timeout=0.05) is False  # one still unfinished: the wait ends at its timeout
    changes.get()
    changes.task_done()
    assert indexer.flush(timeout=0.05) is True
