"""The producer: polls the feeds table and publishes new articles to ``tumen.articles.v1``.

Modules, in the order a poll goes through them:
- ``service``: rounds, the run loop, ``tumen poll --once`` (the entry points);
- ``polling``: one round — fetch, parse, schedule and commit each due feed;
- ``fetcher`` (httpx, limits, conditional GET, redirects), ``compression`` (gzip-bomb safe),
  ``safety`` (SSRF guard on resolved addresses), ``politeness`` (per-host limits, Retry-After);
- ``workers``: parsing and extraction in time- and memory-bounded processes;
- ``charset``, ``hostile``, ``parser``, ``text``: bytes to normalised items; ``fulltext``;
- ``scheduler``: adaptive interval, backoff, jitter;
- ``neardup``, ``publisher``, ``store``: dedup, publish-then-commit, the SQL state;
- ``catalog``, ``feeds_cli``, ``opml``, ``replay``: feed management and archive replay.
"""

__all__: list[str] = []
