"""`python -m bench --only GROUPS`: which phases a run has, so a before/after comparison of one
page takes minutes, not the whole benchmark."""

from __future__ import annotations

import pytest

from bench import data, run
from rooms.validators import clean_room_name


def plan(only: set[str], *, big_room: bool = True, load: str = "wrk") -> dict:
    rooms = {role: clean_room_name(name)[1] for role, name in data.ROLE_ROOMS.items()}
    return run.build_plan(run.SMOKE, base_url="http://127.0.0.1:1", rooms=rooms, sessions=[{"sessionid": "x"}],
                          pids={}, workers=2, searches={"one word": {"q": "ba", "share": 0.01}},
                          indexer_off_url="http://127.0.0.1:2", only=only, big_room=big_room, load=load,
                          room_ids=[*rooms.values(), clean_room_name("Bench many 0001")[1]])


def keys(p: dict) -> list[str]:
    return [phase["key"] for phase in p["phases"]]


def test_only_room_runs_the_room_pages_the_floor_and_the_many_rooms_phase():
    found = keys(plan({"room"}, big_room=False))

    assert {"room_list", "sidebar", "room_page", "room_page_private", "floor", "rooms_warm"} <= set(found)
    assert not [k for k in found if k.startswith(("post", "live", "watch", "stream", "search"))]
    assert "room_page_big" not in found and "history_ab" not in found  # no big room unless asked for


def test_only_search_runs_the_searches_and_the_post_ab():
    found = keys(plan({"search"}))

    assert found == ["post_ab", "search_one_word", "search_one_word_page"]


def test_every_group_by_default_and_get_phases_on_wrk():
    p = plan(set(run.PHASE_GROUPS))
    found = keys(p)

    for key in ["room_page", "room_page_big", "floor", "post", "live_tick", "post_ab", "search_one_word",
                "history_ab", "rooms_warm", "watch_10", "stream_30"]:
        assert key in found, key
    loads = {phase["key"]: phase.get("load") for phase in p["phases"]}
    assert loads["room_page"] == loads["floor"] == loads["search_one_word"] == "wrk"
    assert loads["post"] is None and loads["live_tick"] is None  # scripted: locust


def test_without_wrk_the_get_phases_fall_back_to_locust_and_the_many_rooms_phase_is_left_out():
    p = plan(set(run.PHASE_GROUPS), load="locust")

    assert {phase.get("load") for phase in p["phases"] if phase["kind"] == "page"} == {"locust"}
    assert "rooms_warm" not in keys(p)


def test_only_takes_known_groups():
    assert run.parse_args(["--only", "room,search"]).only == {"room", "search"}
    assert run.parse_args([]).only == set(run.PHASE_GROUPS)
    with pytest.raises(SystemExit):
        run.parse_args(["--only", "rooms"])
