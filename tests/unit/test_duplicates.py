"""router.duplicates: how alike two complaints' texts are."""

from __future__ import annotations

from router.duplicates import similarity, tokens


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
