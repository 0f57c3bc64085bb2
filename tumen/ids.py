"""Stable article ids: a hash of the canonical article URL (or of the feed's GUID where no URL)."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

__all__ = ["article_id", "canonical_url", "content_hash"]

# Query parameters that identify a campaign or a click, never the article.
_TRACKING_EXACT = frozenset(
    {
        "fbclid",
        "gclid",
        "dclid",
        "msclkid",
        "yclid",
        "igshid",
        "mc_cid",
        "mc_eid",
        "ocid",
        "cmpid",
        "_ga",
        "_gl",
        "ref",
        "ref_src",
        "spm",
        "share",
        "at_medium",
        "at_campaign",
        "guccounter",
        "wt.mc_id",
    }
)
_TRACKING_PREFIXES = ("utm_", "mkt_", "pk_", "hsa_", "__hs")
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _is_tracking(name: str) -> bool:
    lowered = name.lower()
    return lowered in _TRACKING_EXACT or lowered.startswith(_TRACKING_PREFIXES)


def canonical_url(url: str) -> str:
    """Lower-case scheme and host, drop default ports, fragments and tracking parameters."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower().rstrip(".")
    port = parts.port
    netloc = host if port is None or _DEFAULT_PORTS.get(scheme) == port else f"{host}:{port}"
    if parts.username:
        netloc = f"{parts.username}@{netloc}"
    query = [
        (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _is_tracking(k)
    ]
    query.sort()
    path = parts.path or "/"
    return urlunsplit((scheme, netloc, path, urlencode(query), ""))


def article_id(url: str | None, guid: str | None = None) -> str:
    """32 hex chars of SHA-256 over the canonical URL; falls back to the GUID."""
    if url and urlsplit(url).scheme in ("http", "https"):
        basis = "url:" + canonical_url(url)
    elif guid:
        basis = "guid:" + guid.strip()
    elif url:
        basis = "url:" + url.strip()
    else:
        raise ValueError("an article needs a URL or a GUID")
    return hashlib.sha256(basis.encode("utf-8")).hexdigest()[:32]


_SPACE = re.compile(r"\s+")


def content_hash(text: str) -> str:
    """Hash of the normalised text (NFKC, case-folded, whitespace collapsed)."""
    norm = _SPACE.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()
    return hashlib.sha256(norm.encode("utf-8")).hexdigest()[:32]
