"""Synthetic archived articles for replay tests, written for these tests."""

from __future__ import annotations

import json
from pathlib import Path

_TEMPLATES = [
    "Officials in Seoul said {n} containers of artillery ammunition left the port of Rajin for "
    "Russia's Far East this week, the {k}th such shipment tracked since the summer.",
    "A rail operator in Primorye reported that {n} wagons of coal and timber crossed the Tumen "
    "river bridge from North Korea in the {k}th week of the new timetable.",
    "The city council approved a budget of {n} million for road repairs, the {k}th revision of "
    "the plan this year, after residents complained about potholes.",
    "A local football club signed a winger on a {n}-month contract, its {k}th signing of the "
    "transfer window, the club said on its website.",
]


def write_articles(path: Path, count: int, *, prefix: str = "story") -> list[str]:
    """``count`` articles with distinct URLs and texts; returns their URLs."""
    urls = []
    with path.open("w", encoding="utf-8") as out:
        for i in range(count):
            url = f"https://news.example.org/{prefix}/{i}"
            text = _TEMPLATES[i % len(_TEMPLATES)].format(n=100 + 7 * i, k=i + 1)
            out.write(
                json.dumps({"url": url, "title": f"Report {i}", "content": text, "feed": "archive"})
                + "\n"
            )
            urls.append(url)
    return urls
