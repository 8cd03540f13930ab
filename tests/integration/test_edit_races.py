"""Edits racing on dynalite (real conditional writes, one connection per thread): several editors
who all saw the same version end with exactly one edit stored and every other editor told what
the message says now; no edit silently overwrites another. (moto's conditions are not atomic
across threads, so this race lives here.)"""

from __future__ import annotations

import threading

from rooms import selectors, services, validators
from tests.support.sessions import request_user

N = 6


def test_editors_racing_on_the_same_version_one_wins_the_rest_are_told(dynalite_tables):
    room = services.room_create(name="Races", created_by="bob")
    bob, staff = request_user("bob"), request_user("sam", is_staff=True)
    message = services.message_post(room=room, author=bob, comment="first words",
                                    idempotency_key=validators.new_token()).message
    barrier = threading.Barrier(N)
    results: list[tuple[str, int, str]] = []

    def run(n: int) -> None:
        barrier.wait()
        try:
            services.message_edit(room=room, actor=staff if n else bob, author_id="bob", sk=message.sk,
                                  comment=f"edit {n}", seen_version=0)
            results.append(("won", n, ""))
        except services.EditConflict as exc:
            results.append(("conflict", n, exc.current.comment))

    threads = [threading.Thread(target=run, args=(n,)) for n in range(N)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [n for outcome, n, _ in results if outcome == "won"]
    assert len(results) == N and len(winners) == 1, results
    stored = selectors.message_get(author_id="bob", sk=message.sk)
    assert stored.comment == f"edit {winners[0]}" and stored.edit_version == 1 and stored.version == 1
    assert all(now == stored.comment for outcome, _, now in results if outcome == "conflict")
    assert [e.comment for e in selectors.message_edits(author_id="bob", sk=message.sk)] == ["first words"]
