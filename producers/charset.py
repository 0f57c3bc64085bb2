"""Character encoding of a feed: declared, undeclared and mis-declared.

feedparser follows RFC 3023 strictly (a ``text/xml`` feed without charset is US-ASCII) and falls
back to windows-1252, which turns undeclared windows-1251 or GB2312 into mojibake. So the
document is decoded here and handed to feedparser as UTF-8. The order:

1. a byte-order mark;
2. a declared UTF-16/32 or 7-bit encoding (ISO-2022-*, HZ, UTF-7), which UTF-8 would misread;
3. UTF-8, if the bytes are valid UTF-8 — legacy text almost never is, and a UTF-8 feed served
   with a stale ``charset=iso-8859-1`` is the most common mis-declaration there is;
4. the HTTP charset, then the XML declaration's, if the bytes decode with it — except that a
   declared Western single-byte charset, which decodes anything, yields to a detected non-Latin
   one (windows-1251 labelled Latin-1);
5. detection (charset-normalizer), where windows-1252 wins ties with other Latin code pages;
6. windows-1252 with replacement characters.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["Decoded", "decode_document"]

_XML_ENCODING = re.compile(rb"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._:-]+)["']""")
_CHARSET = re.compile(r"""charset\s*=\s*["']?([A-Za-z0-9._:-]+)""", re.IGNORECASE)
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_DECLARED_FIRST = ("utf_16", "utf_32", "iso2022", "hz", "utf_7")
# Codecs that decode any byte sequence, so "it decoded" proves nothing.
_WESTERN_SINGLE_BYTE = frozenset(
    {"iso8859_1", "iso8859_15", "cp1252", "iso8859_2", "cp1250", "ascii", "cp1254", "iso8859_9"}
)
_CHAOS_TIE = 0.01
_DETECT_BYTES = 256 * 1024


@dataclass(frozen=True, slots=True)
class Decoded:
    text: str
    encoding: str  # the codec actually used
    declared: str | None  # what the HTTP header or XML declaration said
    note: str | None = None  # set when the declaration was overridden or bytes were replaced


def _codec(name: str | None) -> str | None:
    if not name:
        return None
    try:
        codec = codecs.lookup(name).name.replace("-", "_")
    except LookupError:
        return None
    return "gb18030" if codec in ("gb2312", "gbk") else codec  # supersets, per feedparser


def _strict(data: bytes, codec: str) -> str | None:
    try:
        return data.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return None


def _detect(data: bytes) -> str | None:
    import charset_normalizer  # heavy import, needed only for the odd feed

    matches = list(charset_normalizer.from_bytes(data[:_DETECT_BYTES]))
    if not matches:
        return None
    best = min(m.chaos for m in matches)
    # Western text in windows-1252 often scores the same as cp1250, cp1257 or cp1258; the web's
    # default for undeclared Western text wins such ties.
    if any("cp1252" in m.could_be_from_charset and m.chaos <= best + _CHAOS_TIE for m in matches):
        return "cp1252"
    return _codec(next(m.encoding for m in matches if m.chaos == best))


def _declared(data: bytes, headers: Mapping[str, str]) -> tuple[str | None, str | None]:
    http = _CHARSET.search(headers.get("content-type", ""))
    xml = _XML_ENCODING.match(data[:512])
    return (http.group(1) if http else None), (xml.group(1).decode("ascii") if xml else None)


def decode_document(data: bytes, headers: Mapping[str, str]) -> Decoded:
    """Decode a feed's bytes following the order in the module docstring."""
    for bom, codec in _BOMS:
        if data.startswith(bom):
            return Decoded(data[len(bom) :].decode(codec, "replace"), codec, codec)
    http_cs, xml_cs = _declared(data, headers)
    declared = http_cs or xml_cs
    candidates = [c for c in (_codec(http_cs), _codec(xml_cs)) if c]
    for codec in candidates:
        if codec.startswith(_DECLARED_FIRST) and (text := _strict(data, codec)) is not None:
            return Decoded(text, codec, declared)
    if (text := _strict(data, "utf-8")) is not None:
        overridden = (
            bool(candidates) and candidates[0] not in ("utf_8", "ascii") and not data.isascii()
        )
        note = f"declared {declared}, decoded as utf-8" if overridden else None
        return Decoded(text, "utf-8", declared, note)
    detected: str | None = None
    for codec in _expand(candidates):
        if codec in _WESTERN_SINGLE_BYTE:
            detected = detected or _detect(data) or codec
            if detected not in _WESTERN_SINGLE_BYTE:
                return _with(data, detected, declared)
        if (text := _strict(data, codec)) is not None:
            return Decoded(text, codec, declared)
    detected = detected or _detect(data)
    if detected and (text := _strict(data, detected)) is not None:
        return Decoded(text, detected, declared, f"declared {declared}, detected {detected}")
    return _with(data, "cp1252", declared)


def _expand(candidates: list[str]) -> list[str]:
    """Latin-1 and ASCII labels mean windows-1252 on the web (WHATWG); Latin-1 stays a fallback."""
    out: list[str] = []
    for codec in candidates:
        out += ["cp1252", "iso8859_1"] if codec in ("iso8859_1", "ascii") else [codec]
    return out


def _with(data: bytes, codec: str, declared: str | None) -> Decoded:
    text = data.decode(codec, "replace")
    return Decoded(text, codec, declared, f"declared {declared}, decoded as {codec}")
