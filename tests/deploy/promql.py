"""Just enough PromQL reading for the deploy tests: which metrics, labels and label values an
expression uses. Syntax itself is checked by promtool; this only has to find names reliably in
the expressions Tumen ships (selectors, functions, aggregations, set operators, offsets)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

__all__ = ["GRAFANA_RANGES", "Matcher", "Parsed", "parse", "substitute_grafana"]

# Grafana's interval variables: any valid duration will do for parsing.
GRAFANA_RANGES = re.compile(
    r"\$__(rate_interval|interval|range)(_ms|_s)?|\$\{__(rate_interval|interval|range)\}"
)

_STRING = re.compile(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'|`[^`]*`')
_SELECTOR = re.compile(r"(?<![\w:])([a-zA-Z_:][a-zA-Z0-9_:]*)?\s*\{([^{}]*)\}")
_MATCHER = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*("(?:\\.|[^"\\])*")')
_GROUPING = re.compile(
    r"\b(by|without|on|ignoring|group_left|group_right)\s*\(([^()]*)\)", re.IGNORECASE
)
_BRACKETS = re.compile(r"\[[^\[\]]*\]")
_OFFSET = re.compile(r"\boffset\s+-?[0-9a-z]+", re.IGNORECASE)
_IDENT = re.compile(r"(?<![\w:.])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?")
_KEYWORDS = frozenset(
    {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right"}
    | {"offset", "bool", "inf", "nan"}
)


@dataclass(frozen=True)
class Matcher:
    metric: str | None  # None for a bare {…} selector
    label: str
    op: str
    value: str

    def plain_values(self) -> list[str] | None:
        """The values an = or =~ matcher names, when it is a plain alternation (a|b|c)."""
        if self.op == "=":
            return [self.value]
        if self.op == "=~" and re.fullmatch(r"[A-Za-z0-9_.-]+(\|[A-Za-z0-9_.-]+)*", self.value):
            return self.value.split("|")
        return None


@dataclass
class Parsed:
    metrics: set[str] = field(default_factory=set)
    matchers: list[Matcher] = field(default_factory=list)
    grouping_labels: set[str] = field(default_factory=set)


def substitute_grafana(expr: str) -> str:
    return GRAFANA_RANGES.sub("5m", expr)


def _unquote(text: str) -> str:
    return bytes(text[1:-1], "utf-8").decode("unicode_escape")


def parse(expr: str) -> Parsed:
    out = Parsed()
    for m in _SELECTOR.finditer(expr):
        for lm in _MATCHER.finditer(m.group(2)):
            out.matchers.append(
                Matcher(m.group(1), lm.group(1), lm.group(2), _unquote(lm.group(3)))
            )
    text = _STRING.sub('""', expr)
    text = re.sub(r"\{[^{}]*\}", " ", text)
    text = _BRACKETS.sub(" ", text)
    text = _OFFSET.sub(" ", text)
    for g in _GROUPING.finditer(text):
        out.grouping_labels.update(x.strip() for x in g.group(2).split(",") if x.strip())
    text = _GROUPING.sub(" ", text)
    for ident in _IDENT.finditer(text):
        name, call = ident.group(1), ident.group(2)
        if call or name.lower() in _KEYWORDS:
            continue  # a function or aggregation, or an operator keyword
        out.metrics.add(name)
    return out
