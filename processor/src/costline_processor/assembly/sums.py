"""A span's sums: what its billed model call and the calls below it add up to.

[cost USD, llm calls, input tokens, output tokens], indexed by COST, CALLS, INPUT and
OUTPUT. A plain list, not an object, because the bottom-up pass makes one for every
span with a billed call at or below it and adds into it in place: a list is quicker to
make and to add to. A new one starts from ZERO_USD + a cost, the same Decimal a running
sum from zero gives. The rollup attributes (`costline.rollup.*`) are written from it.
"""

from __future__ import annotations

from decimal import Decimal

Sums = list  # [Decimal, int, int, int]
COST, CALLS, INPUT, OUTPUT = 0, 1, 2, 3
ZERO_USD = Decimal(0)
