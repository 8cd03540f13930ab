"""Direct conversations started by several people at the same moment, on dynalite (real
conditional writes, one connection per thread): one room record is written, every start opens it,
and every participant ends up a member with the conversation in their sidebar."""

from __future__ import annotations

import threading

from pynamodb.exceptions import PutError

from rooms import selectors, services
from rooms.models import DIRECT, RoomRecord
from tests.support.sessions import request_user
from tests.support.users import ensure_user_item

N = 8


def test_concurrent_starts_make_one_conversation_with_every_participant_a_member(dynalite_tables, monkeypatch):
    group = ["ann", "ben", "cat", "dan"]
    for user_id in group:
        ensure_user_item(user_id)
    written, refused = [], []
    real_save = RoomRecord.save

    def watched_save(self, *args, **kwargs):  # the real put, counted
        try:
            result = real_save(self, *args, **kwargs)
        except PutError:
            refused.append(self.PK)
            raise
        written.append(self.PK)
        return result

    monkeypatch.setattr(RoomRecord, "save", watched_save)
    barrier = threading.Barrier(N)
    results, errors = [], []

    def start(n: int) -> None:
        me = group[n % len(group)]
        barrier.wait()
        try:
            results.append(services.direct_start(starter=request_user(me), usernames=[u for u in group if u != me]))
        except Exception as exc:  # noqa: BLE001 - asserted below
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(n,)) for n in range(N)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and len(results) == N and len(set(results)) == 1, (errors, results)
    room_id = results[0]
    # Starts that found the conversation finished read one item and wrote nothing; the others raced
    # on the room record's conditional put: exactly one won.
    assert len(written) == 1 and len(written) + len(refused) <= N, (written, refused)
    assert selectors.room_get(room_id=room_id).kind == DIRECT
    assert [m.user_id for m in selectors.all_room_members(room_id=room_id)] == group
    for user_id in group:
        assert [(r.room_id, r.kind) for r in selectors.user_rooms(user_id=user_id)] == [(room_id, DIRECT)]
