"""`python -m bench` runs the phases that don't need the big room before the big room and its
search index are written into dynalite (whose cost per call grows with its store, DynamoDB's does
not), and history scaling's own phases and A/B on the big store, both rooms alike. The report
says which phases ran where, and builds history scaling from the small room's phase on the big
store."""

from __future__ import annotations

import copy
import json
from pathlib import Path

from bench import data, report, run
from rooms.validators import clean_room_name

ROOT = Path(__file__).resolve().parents[1]
BIG_STORE = {"room_page_beside_big", "room_page_big", "permalink_big", "history_ab", "post_ab", "search_one_word",
             "search_one_word_page"}


def full_plan() -> dict:
    rooms = {role: clean_room_name(name)[1] for role, name in data.ROLE_ROOMS.items()}
    return run.build_plan(run.SMOKE, base_url="http://127.0.0.1:1", rooms=rooms, sessions=[{"sessionid": "x"}],
                          pids={}, workers=2, searches={"one word": {"q": "ba", "share": 0.01}},
                          permalink_sk="MSG#2026-11-27T10:00:00.000Z#abc", indexer_off_url="http://127.0.0.1:2",
                          only=set(run.PHASE_GROUPS), room_ids=[*rooms.values(), clean_room_name("Bench many 0001")[1]])


def test_the_room_page_its_floor_and_every_phase_without_the_big_room_run_on_the_small_store():
    plan = full_plan()
    stores = {phase["key"]: phase["store"] for phase in plan["phases"]}

    assert {key for key, store in stores.items() if store == "big"} == BIG_STORE
    for key in ["room_list", "sidebar", "room_page", "room_page_private", "floor", "rooms_warm", "post", "live_tick",
                "watch_10", "stream_30"]:
        assert stores[key] == "small", key


def test_stretch_keeps_one_stores_phases_in_order_and_the_rest_of_the_plan():
    plan = full_plan()

    small, big = run.stretch(plan, "small"), run.stretch(plan, "big", pids={"dynalite": 2})

    assert [p["key"] for p in small["phases"]] + [p["key"] for p in big["phases"]] == \
        [p["key"] for p in plan["phases"] if p["store"] == "small"] + [p["key"] for p in plan["phases"]
                                                                       if p["store"] == "big"]
    assert small["sessions"] == plan["sessions"] and big["pids"] == {"dynalite": 2}  # the restarted dynalite's


def test_history_scalings_own_phases_are_the_two_rooms_one_after_the_other_on_the_big_store():
    phases = run.stretch(full_plan(), "big")["phases"]
    keys = [p["key"] for p in phases]
    beside, big = (phases[keys.index(k)] for k in ("room_page_beside_big", "room_page_big"))
    page = next(p for p in full_plan()["phases"] if p["key"] == "room_page")

    assert keys.index("room_page_big") == keys.index("room_page_beside_big") + 1
    assert beside["path"] == page["path"] != big["path"]  # the small room's page, again, beside the big one's
    assert {k: v for k, v in beside.items() if k not in ("key", "label", "path", "store")} == \
        {k: v for k, v in page.items() if k not in ("key", "label", "path", "store")}


def results_with_stores() -> dict:
    """docs/benchmarks.json, as if its run had split the phases by store: the small room's own phase
    beside the big room is the room page's, with its own throughput."""
    results = json.loads((ROOT / "docs" / "benchmarks.json").read_text())
    results["phases"] = [p for p in results["phases"] if p["phase"]["key"] != "room_page_beside_big"]
    for phase in results["phases"]:
        phase["phase"]["store"] = "big" if phase["phase"]["key"] in BIG_STORE | {"search_prefix", "search_two_words",
                                                                                 "search_prefix_page",
                                                                                 "search_two_words_page"} else "small"
    beside = copy.deepcopy(report._phase(results, "room_page"))
    beside["phase"].update(key="room_page_beside_big", store="big", label="room page (100 msgs), beside the big room")
    beside["rps"] = 12.345
    results["phases"].insert(results["phases"].index(report._phase(results, "room_page_big")), beside)
    return results


def test_the_report_judges_history_on_the_big_store_and_says_which_phases_ran_where():
    text = report.markdown(results_with_stores(), "benchmarks.png")

    history = text[text.index("## History scaling"):text.index("## Memory and CPU")]
    own = next(line for line in history.splitlines() if line.startswith("| 100 messages, own phase |"))
    assert "| 12.3 |" in own  # the small room's phase beside the big room, not the room page's on the small store
    order = next(line for line in text.splitlines() if line.startswith("- order:"))
    assert "left empty while the phases that don't need it run" in order
    after = order.split("the phases that need them run: ")[1].split(". ")[0]
    assert after.startswith("*room page (100 msgs), beside the big room*, *room page (1,000,000 msgs)*")
    assert "floor" not in after and "sidebar" not in after
    assert "before the big room was written" in text  # the profile too
    assert "| room page (100 msgs), beside the big room |" in text  # in the endpoint table


def test_a_run_from_before_the_split_says_every_phase_ran_after_the_big_write():
    results = json.loads((ROOT / "docs" / "benchmarks.json").read_text())
    for phase in results["phases"]:
        phase["phase"].pop("store", None)
    results["phases"] = [p for p in results["phases"] if p["phase"]["key"] != "room_page_beside_big"]

    text = report.markdown(results, "benchmarks.png")

    assert "- order: every phase ran after the big room and its search index were written" in text
