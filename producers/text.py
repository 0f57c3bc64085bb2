"""HTML to plain text, length caps and language tags.

The producer publishes text, never HTML: downstream stages read it and nothing renders it, so
stripping is all the sanitising needed. ``html.parser`` is used because it never fetches anything
and never expands entities beyond the HTML character references; script, style and the like are
dropped with their content.
"""

from __future__ import annotations

import re
from html import unescape
from html.parser import HTMLParser

__all__ = ["clip", "collapse", "html_to_text", "normalise_language"]

_SKIP = frozenset(
    {
        "script",
        "style",
        "noscript",
        "template",
        "head",
        "svg",
        "math",
        "iframe",
        "object",
        "embed",
        "canvas",
        "select",
        "button",
        "form",
    }
)
_BLOCK = frozenset(
    {
        "p",
        "div",
        "br",
        "li",
        "ul",
        "ol",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "tr",
        "table",
        "blockquote",
        "section",
        "article",
        "header",
        "footer",
        "pre",
        "hr",
        "dd",
        "dt",
        "dl",
        "figcaption",
        "figure",
        "aside",
        "nav",
        "main",
        "address",
        "caption",
        "td",
        "th",
    }
)
_SPACES = re.compile(r"[^\S\n]+")
_BLANKS = re.compile(r"\s*\n\s*")
_LANG = re.compile(r"^[a-z]{2,3}(?:-[a-z0-9]{1,8})*$")


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self._skip_depth += 1
        elif tag in _BLOCK:
            self.parts.append("\n")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self._skip_depth = max(0, self._skip_depth - 1)
        elif tag in _BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip_depth:
            self.parts.append(data)


def collapse(text: str) -> str:
    """Runs of spaces to one space, line breaks kept (one), ends stripped."""
    return _BLANKS.sub("\n", _SPACES.sub(" ", text)).strip()


def clip(text: str, limit: int) -> str:
    """At most ``limit`` characters, cut at a space where one is near the end."""
    if len(text) <= limit:
        return text
    cut = text[:limit]
    space = cut.rfind(" ", limit - 200)
    return cut[:space] if space > 0 else cut


def html_to_text(markup: str, *, limit: int) -> str:
    """Visible text of an HTML fragment, at most ``limit`` characters."""
    # Bound the work on megabyte fields: markup is rarely more than 4x its text.
    markup = markup[: limit * 4]
    if "<" not in markup:
        return clip(collapse(unescape(markup) if "&" in markup else markup), limit)
    parser = _TextExtractor()
    parser.feed(markup)
    parser.close()
    return clip(collapse("".join(parser.parts)), limit)


def normalise_language(value: object) -> str | None:
    """A BCP 47-looking tag, lower-case ('en-US' -> 'en-us'), or None."""
    if not isinstance(value, str):
        return None
    tag = value.strip().replace("_", "-").lower()[:35]
    return tag if _LANG.match(tag) else None
