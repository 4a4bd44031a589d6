"""services.geo: Karaj's districts, point in polygon, names, distances."""

from __future__ import annotations

import pytest

from services.geo import DistrictMap, InvalidDistricts, bounding_box, haversine_m, load_districts


@pytest.fixture(scope="module")
def karaj() -> DistrictMap:
    return load_districts()


def test_karaj_ships_twelve_districts(karaj: DistrictMap) -> None:
    assert sorted(karaj.districts, key=int) == [str(n) for n in range(1, 13)]


@pytest.mark.parametrize(
    ("lat", "lon", "district"),
    [(35.845, 50.92, "1"), (35.845, 51.05, "4"), (35.82, 50.96, "6"), (35.79, 51.05, "12")],
)
def test_a_point_falls_in_its_district(karaj: DistrictMap, lat: float, lon: float, district: str) -> None:
    assert karaj.locate(lat, lon) == district


def test_a_point_outside_the_city_has_no_district(karaj: DistrictMap) -> None:
    assert karaj.locate(35.70, 51.40) is None  # Tehran


@pytest.mark.parametrize("name", ["3", "۳", "منطقه ۳", "منطقه 3", "District 3", "district  3", "منطقه ٣"])
def test_a_district_is_found_by_any_of_its_names(karaj: DistrictMap, name: str) -> None:
    assert karaj.match(name) == "3"


def test_location_wins_over_the_name_and_the_name_is_the_fallback(karaj: DistrictMap) -> None:
    assert karaj.resolve(lat=35.845, lon=50.92, name="District 3") == "1"
    assert karaj.resolve(lat=35.70, lon=51.40, name="District 3") == "3"
    assert karaj.resolve(lat=None, lon=None, name="unknown") is None


def test_geojson_round_trips(karaj: DistrictMap) -> None:
    again = DistrictMap.from_geojson(karaj.to_geojson())
    assert again.locate(35.82, 50.96) == "6" and again.match("منطقه ۶") == "6"


@pytest.mark.parametrize(
    "document",
    [
        [],
        {"type": "FeatureCollection", "features": []},
        {"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {}, "geometry": None}]},
        {
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "properties": {"code": "x"},
                    "geometry": {"type": "Point", "coordinates": [51.0, 35.8]},
                }
            ],
        },
        {  # a bow tie crosses itself
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "properties": {"code": "x"},
                    "geometry": {
                        "type": "Polygon",
                        "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]],
                    },
                }
            ],
        },
    ],
)
def test_bad_geojson_is_refused(document: object) -> None:
    with pytest.raises(InvalidDistricts):
        DistrictMap.from_geojson(document)


def test_haversine_and_its_box() -> None:
    assert haversine_m(35.8, 51.0, 35.8, 51.0) == 0
    assert haversine_m(35.0, 51.0, 36.0, 51.0) == pytest.approx(111_195, rel=1e-3)
    south, west, north, east = bounding_box(35.8, 51.0, 100)
    assert haversine_m(35.8, 51.0, north, 51.0) == pytest.approx(100, rel=1e-3)
    assert haversine_m(35.8, 51.0, 35.8, east) == pytest.approx(100, rel=1e-2)
    assert south < 35.8 < north and west < 51.0 < east
