"""Content-Encoding decoding with a hard cap on the *decompressed* size (gzip-bomb safe).

httpx would decompress each network chunk in one call, and 64 KiB of gzip can inflate to 64 MiB.
Here every ``decompress`` call is given ``max_length``, so no more than the cap (plus one byte, to
detect the overflow) is ever produced, whatever the compression ratio.
"""

from __future__ import annotations

import zlib

from producers.errors import FetchError

__all__ = ["ACCEPT_ENCODING", "BoundedDecoder"]

ACCEPT_ENCODING = "gzip, deflate"

_GZIP_WBITS = 31  # gzip header and trailer
_ZLIB_WBITS = 15  # zlib header (RFC 1950), what "deflate" should mean
_RAW_WBITS = -15  # bare deflate, what some servers send as "deflate"


class BoundedDecoder:
    """Feed raw body chunks, get decoded bytes; raises once more than ``limit`` bytes decode."""

    def __init__(self, content_encoding: str | None, *, limit: int) -> None:
        codings = [c.strip().lower() for c in (content_encoding or "").split(",") if c.strip()]
        codings = [c for c in codings if c != "identity"]
        if len(codings) > 1:
            raise FetchError("bad_content_encoding", f"stacked encodings {content_encoding!r}")
        coding = codings[0] if codings else ""
        if coding not in ("", "gzip", "x-gzip", "deflate"):
            raise FetchError("bad_content_encoding", f"unsupported encoding {coding!r}")
        self._limit = limit
        self._coding = coding
        self._wbits = _GZIP_WBITS if coding in ("gzip", "x-gzip") else _ZLIB_WBITS
        self._inflater = zlib.decompressobj(self._wbits) if coding else None
        self._raw_total = 0
        self._total = 0
        self._started = False

    @property
    def decoded_bytes(self) -> int:
        return self._total

    def feed(self, chunk: bytes) -> bytes:
        self._raw_total += len(chunk)
        if self._raw_total > self._limit:
            raise FetchError("body_too_large", f"more than {self._limit} bytes")
        if self._inflater is None:
            self._total += len(chunk)
            return chunk
        try:
            return self._inflate(chunk)
        except zlib.error as exc:
            raise FetchError("bad_content_encoding", f"{self._coding}: {exc}") from exc

    def _inflate(self, data: bytes) -> bytes:
        if not self._started and self._coding == "deflate" and data:
            self._started = True
            data = self._sniff_deflate(data)
        out = bytearray()
        assert self._inflater is not None
        while data:
            piece = self._inflater.decompress(data, self._limit - self._total + 1)
            self._total += len(piece)
            if self._total > self._limit:
                raise FetchError(
                    "decompressed_too_large", f"more than {self._limit} bytes once decompressed"
                )
            out += piece
            data = self._inflater.unconsumed_tail
            if not data and self._inflater.eof and self._inflater.unused_data:
                # gzip allows several members one after the other
                data = self._inflater.unused_data
                self._inflater = zlib.decompressobj(self._wbits)
            elif self._inflater.eof:
                break  # bytes after the end of the stream are ignored, as browsers do
        return bytes(out)

    def _sniff_deflate(self, data: bytes) -> bytes:
        """'deflate' is zlib-wrapped by the RFC but bare deflate from some servers."""
        if len(data) >= 2 and (data[0] & 0x0F) == 8 and (data[0] << 8 | data[1]) % 31 == 0:
            return data
        self._wbits = _RAW_WBITS
        self._inflater = zlib.decompressobj(_RAW_WBITS)
        return data

    def flush(self) -> bytes:
        if self._inflater is None:
            return b""
        try:
            tail = self._inflater.flush()
        except zlib.error as exc:
            raise FetchError("bad_content_encoding", f"{self._coding}: {exc}") from exc
        self._total += len(tail)
        if self._total > self._limit:
            raise FetchError("decompressed_too_large", f"more than {self._limit} bytes")
        return tail
