"""router.duplicates: how alike two complaints' texts are; the cache of cells a worker read lately."""

from __future__ import annotations

from router.duplicates import NearbyCache, similarity, tokens


def test_the_same_report_in_other_letter_forms_and_digits_is_identical() -> None:
    a = "چاله بزرگ جلوی پلاک ۱۲ خیابان شهید بهشتی"
    b = "چاله بزرگ جلوي پلاك 12 خيابان شهيد بهشتي"
    assert similarity(a, b) == 1.0


def test_similar_reports_score_above_unrelated_ones() -> None:
    first = "چراغ برق تیر روبروی مدرسه خاموش است"
    again = "سلام، چراغ تیر برق روبروی مدرسه چند شب است خاموش است"
    other = "زباله‌ها سه روز است جمع نشده"
    assert similarity(first, again) >= 0.5
    assert similarity(first, other) == 0.0


def test_polite_words_and_function_words_do_not_make_texts_alike() -> None:
    assert tokens("سلام لطفا به این موضوع رسیدگی کنید") == frozenset({"موضوع", "رسیدگی"})
    assert similarity("please fix the light", "please fix the pothole") == 1 / 3


def test_empty_or_stopword_only_texts_share_nothing() -> None:
    assert similarity("", "چاله") == 0.0
    assert similarity("سلام", "سلام") == 0.0


def test_the_cells_around_a_point_hold_every_point_within_the_radius() -> None:
    import math
    import random

    from router.duplicates import cell, cells_around
    from services.geo import haversine_m

    rng = random.Random(7)
    for _ in range(500):
        lat, lon = rng.uniform(35.7, 35.9), rng.uniform(50.8, 51.2)
        radius = rng.choice([40.0, 150.0, 1500.0])
        around = set(cells_around("roads", lat, lon, radius))
        angle, distance = rng.uniform(0, 2 * math.pi), rng.uniform(0, radius * 0.999)
        other_lat = lat + math.degrees(distance * math.cos(angle) / 6_371_008.8)
        other_lon = lon + math.degrees(
            distance * math.sin(angle) / (6_371_008.8 * math.cos(math.radians(lat)))
        )
        if haversine_m(lat, lon, other_lat, other_lon) <= radius:
            assert cell("roads", other_lat, other_lon) in around
    assert cell("roads", 35.8, 51.0) != cell("waste", 35.8, 51.0)


def _doc(complaint_id: str, status: str = "routed") -> dict[str, object]:
    return {"_id": complaint_id, "status": status, "category": "lighting"}


def test_a_cached_cell_answers_until_its_time_is_up_then_must_be_read_again() -> None:
    now = [100.0]
    cache = NearbyCache(5.0, clock=lambda: now[0])
    assert cache.fresh("lighting:1:2") is None
    cache.put("lighting:1:2", [_doc("a"), _doc("closed", "resolved")], cache.reading())
    assert cache.fresh("lighting:1:2") == [_doc("a")]  # closed complaints are never candidates
    now[0] += 5.0
    assert cache.fresh("lighting:1:2") == [_doc("a")]
    now[0] += 0.1
    assert cache.fresh("lighting:1:2") is None


def test_the_workers_own_decisions_join_cached_cells_only() -> None:
    cache = NearbyCache(5.0)
    cache.put("lighting:1:2", [_doc("a")], cache.reading())
    cache.add("lighting:1:2", _doc("b"))
    cache.add("lighting:9:9", _doc("c"))  # a cell never read: the store has it when it is read
    assert sorted(d["_id"] for d in cache.fresh("lighting:1:2") or []) == ["a", "b"]
    assert cache.fresh("lighting:9:9") is None


def test_a_change_to_a_complaint_makes_its_cell_read_again() -> None:
    cache = NearbyCache(5.0)
    cache.put("lighting:1:2", [_doc("a")], cache.reading())
    cache.put("lighting:3:4", [_doc("b")], cache.reading())
    cache.forget("a")
    assert cache.fresh("lighting:1:2") is None and cache.fresh("lighting:3:4") == [_doc("b")]
    cache.forget("unknown")
    cache.clear()
    assert cache.fresh("lighting:3:4") is None


def test_a_cell_read_while_a_change_was_applied_is_not_kept() -> None:
    cache = NearbyCache(5.0)
    reading = cache.reading()  # the query starts …
    cache.forget("a")  # … a complaint changes (maybe after the query read it) …
    cache.put("lighting:1:2", [_doc("a")], reading)  # … the answer arrives
    assert cache.fresh("lighting:1:2") is None
    cache.put("lighting:1:2", [_doc("a")], cache.reading())
    assert cache.fresh("lighting:1:2") == [_doc("a")]


def test_a_full_cache_drops_what_is_out_of_date_first() -> None:
    now = [0.0]
    cache = NearbyCache(5.0, max_cells=2, clock=lambda: now[0])
    cache.put("old", [_doc("a")], cache.reading())
    now[0] = 10.0
    cache.put("new", [_doc("b")], cache.reading())
    cache.put("newer", [_doc("c")], cache.reading())
    assert cache.fresh("new") == [_doc("b")] and cache.fresh("newer") == [_doc("c")]
    cache.forget("a")  # its cell is gone already
    assert cache.fresh("old") is None


def test_a_sole_worker_keeps_cells_longer_and_forgets_them_all_when_that_changes() -> None:
    now = [0.0]
    cache = NearbyCache(5.0, sole_seconds=600.0, clock=lambda: now[0])
    cache.alone(True)
    cache.put("lighting:1:2", [_doc("a")], cache.reading())
    now[0] = 300.0
    assert cache.sole and cache.fresh("lighting:1:2") == [_doc("a")]
    cache.alone(True)  # assigned everything again: nothing changed
    assert cache.fresh("lighting:1:2") == [_doc("a")]
    cache.alone(False)  # a rebalance: another worker may decide from now on
    assert cache.seconds == 5.0 and cache.fresh("lighting:1:2") is None
