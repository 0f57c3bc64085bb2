"""OPML 2.0, the feed-list format every feed reader imports and exports.

Reading uses defusedxml, which refuses entity declarations and external references, so an OPML
file cannot expand itself or read local files. Feeds are the ``outline`` elements with an
``xmlUrl``, at any depth (readers nest them in folders). Tumen's own settings travel in
namespaced attributes, ``tumen:interval`` (seconds) and ``tumen:fullText``, which other readers
ignore, so an export re-imports unchanged.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime

import defusedxml
import defusedxml.ElementTree as SafeET

from producers.errors import OpmlError
from tumen import __version__

__all__ = ["OPML_NS", "ExportFeed", "OpmlFeed", "read_opml", "write_opml"]

OPML_NS = "https://github.com/tumen-project/tumen/opml"
_INTERVAL = f"{{{OPML_NS}}}interval"
_FULL_TEXT = f"{{{OPML_NS}}}fullText"
_MAX_BYTES = 10 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class OpmlFeed:
    url: str
    title: str | None = None
    interval_s: int | None = None
    full_text: bool = False


def _attr(outline: ET.Element, name: str) -> str | None:
    """OPML attribute names are case-sensitive by the spec, not by the files in the wild."""
    for key, value in outline.attrib.items():
        if key.lower() == name.lower():
            return value.strip() or None
    return None


def _interval(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise OpmlError("bad_attribute", f"tumen:interval={value!r} is not a number") from None


def read_opml(data: bytes) -> list[OpmlFeed]:
    if len(data) > _MAX_BYTES:
        raise OpmlError("too_large", f"more than {_MAX_BYTES} bytes")
    try:
        root = SafeET.fromstring(data)
    except defusedxml.DefusedXmlException as exc:
        raise OpmlError("entity_declaration", f"refused: {type(exc).__name__}") from exc
    except ET.ParseError as exc:
        raise OpmlError("malformed", str(exc)) from exc
    if root.tag != "opml" or root.find("body") is None:
        raise OpmlError("not_opml", f"root element is <{root.tag}>, expected <opml> with <body>")
    feeds = []
    for outline in root.iter("outline"):
        url = _attr(outline, "xmlUrl")
        if url is None:
            continue  # a folder, or a plain outline entry
        feeds.append(
            OpmlFeed(
                url=url,
                title=_attr(outline, "title") or _attr(outline, "text"),
                interval_s=_interval(outline.get(_INTERVAL)),
                full_text=(outline.get(_FULL_TEXT) or "").lower() == "true",
            )
        )
    return feeds


@dataclass(frozen=True, slots=True)
class ExportFeed:
    name: str
    url: str
    interval_s: int | None
    full_text: bool


def write_opml(feeds: Iterable[ExportFeed], *, now: datetime | None = None) -> bytes:
    ET.register_namespace("tumen", OPML_NS)
    root = ET.Element("opml", {"version": "2.0"})
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = "Tumen feeds"
    ET.SubElement(head, "dateCreated").text = format_datetime(now or datetime.now(UTC), usegmt=True)
    ET.SubElement(head, "docs").text = "http://opml.org/spec2.opml"
    ET.SubElement(head, "generator").text = f"Tumen {__version__}"
    body = ET.SubElement(root, "body")
    for feed in feeds:
        attrs = {"type": "rss", "text": feed.name, "title": feed.name, "xmlUrl": feed.url}
        if feed.interval_s:
            attrs[_INTERVAL] = str(feed.interval_s)
        if feed.full_text:
            attrs[_FULL_TEXT] = "true"
        ET.SubElement(body, "outline", attrs)
    ET.indent(root)
    return bytes(ET.tostring(root, encoding="utf-8", xml_declaration=True)) + b"\n"
