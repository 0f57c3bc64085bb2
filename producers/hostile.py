"""Cheap checks that refuse hostile documents before feedparser sees them.

- Entity declarations: no real feed declares entities, and they are what "billion laughs"
  (nested expansion), quadratic blow-up (one big entity referenced a million times) and XXE
  (``SYSTEM "file:///etc/passwd"``) are made of. feedparser keeps "safe" internal entities, which
  still allows the quadratic attack, so any ``<!ENTITY`` in the prolog is refused.
- Binary garbage: a document that does not start with markup, or whose start is mostly control
  or replacement characters.
- Item floods: feedparser builds every entry in memory; a 10 MB body of ``<item/>`` would be
  1.5 million entries.

Also, characters XML 1.0 forbids (C0 controls other than tab, CR, LF) are removed: they are common
in real feeds and would send the whole document to the slow, lossy loose parser.
"""

from __future__ import annotations

import re

from producers.errors import FeedError

__all__ = ["check_document"]

_ROOT_START = re.compile(r"<[A-Za-z_]")
_ENTITY = re.compile(r"<!ENTITY", re.IGNORECASE)
_ITEM = re.compile(r"<(?:[A-Za-z_][\w.-]*:)?(?:item|entry)[\s/>]")
_ILLEGAL_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_SAMPLE = 64 * 1024
_MAX_BAD_SHARE = 0.05


def check_document(text: str, *, max_items: int) -> str:
    """Return the text with illegal XML characters removed, or raise FeedError with a reason."""
    start = text.lstrip("\ufeff \t\r\n")
    if not start:
        raise FeedError("empty", "no content")
    sample = start[:_SAMPLE]
    bad = len(_ILLEGAL_XML.findall(sample)) + sample.count("\ufffd")
    if bad > _MAX_BAD_SHARE * len(sample):
        raise FeedError(
            "binary", f"{bad} control or undecodable characters in the first {len(sample)}"
        )
    if not start.startswith("<"):
        raise FeedError("not_a_feed", "does not start with markup")
    root = _ROOT_START.search(start)
    prolog = start[: root.start()] if root else start
    if _ENTITY.search(prolog):
        raise FeedError("entity_declaration", "the document declares XML entities")
    for count, _ in enumerate(_ITEM.finditer(start), 1):
        if count > max_items:
            raise FeedError("too_many_items", f"more than {max_items} items")
    return _ILLEGAL_XML.sub("", start) if bad else start
