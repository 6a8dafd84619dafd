"""Recent answers of the page's API, by request, for `ttl_s` seconds: one query per question at a time.

A report on a 1M-call ledger is a scan of the period's calls (about 1.5 s for 30 days of such a
ledger on this machine: ledger/query.py's GROUP BY), and the page asks the same questions again
as people move between views and back. An answer is kept, with the request (path and query
string) as its key, for `ttl_s` seconds (DEFAULT_TTL_S): the numbers on the page may be that much
older than the ledger. Requests for a question already being answered wait for that answer
instead of scanning again. A failure is never kept.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

DEFAULT_TTL_S = 30.0


class AnswerCache:
    def __init__(self, ttl_s: float = DEFAULT_TTL_S, size: int = 256, clock: Callable[[], float] = time.monotonic):
        self.ttl_s, self.size, self._clock = ttl_s, size, clock
        self._kept: OrderedDict[str, tuple[float, asyncio.Future]] = OrderedDict()

    async def answer(self, key: str, make: Callable[[], Awaitable[Any]]) -> Any:
        """The kept answer to `key`, or `make()`'s (kept, and shared with whoever asks meanwhile)."""
        now = self._clock()
        kept = self._kept.get(key)
        if kept is not None and now - kept[0] < self.ttl_s:
            self._kept.move_to_end(key)
            return await asyncio.shield(kept[1])
        future = asyncio.get_running_loop().create_future()
        self._kept[key] = (now, future)
        while len(self._kept) > self.size:
            self._kept.popitem(last=False)
        try:
            result = await make()
        except BaseException as e:
            if self._kept.get(key, (0, None))[1] is future:
                del self._kept[key]
            future.set_exception(e)
            future.exception()  # retrieved: a failure nobody else awaited is not logged as lost
            raise
        future.set_result(result)
        return result
