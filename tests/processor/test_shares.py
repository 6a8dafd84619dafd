"""shares.py: which tag values name several owners, the exact split by hand, the ledger's column."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from costline_processor.shares import column, owners, part, part_money, renamed


@pytest.mark.parametrize(
    "value, want",
    [
        ('["a","b"]', (("a", 0, 1, 2), ("b", 1, 2, 2))),
        ('["b","a","c"]', (("a", 0, 1, 3), ("b", 1, 2, 3), ("c", 2, 3, 3))),  # name order, whatever the order given
        ('{"a":3,"b":1}', (("a", 0, 3, 4), ("b", 3, 4, 4))),
        ('{"a":6,"b":2}', (("a", 0, 3, 4), ("b", 3, 4, 4))),  # reduced by the gcd
        ('{"a":0.5,"b":0.25}', (("a", 0, 2, 3), ("b", 2, 3, 3))),
        ('{"a":1e2,"b":50}', (("a", 0, 2, 3), ("b", 2, 3, 3))),
    ],
)
def test_several_owners(value, want):
    assert owners(value) == want


@pytest.mark.parametrize(
    "value",
    [
        "acme",
        "",
        "[",
        '["a"]',
        '["a","a"]',
        '["a",""]',
        '["a",1]',
        "[1,2]",
        '{"a":1}',
        '{"a":0,"b":1}',
        '{"a":-1,"b":1}',
        '{"a":true,"b":1}',
        '{"a":"1","b":1}',
        '{"a":1,"a":2}',
        '{"a":1000000,"b":1}',
        '{"a":NaN,"b":1}',
        '{"a":[1],"b":1}',
        '"a"',
        "42",
        "[" * 5000,
    ],
)
def test_one_owner(value):
    assert owners(value) is None
    assert column({"customer_id": value}) is None


def test_parts_by_hand():
    # 10 three ways: trunc(10/3)=3, trunc(20/3)-3=3, 10-6=4; -10: -3, -3, -4 (towards zero)
    thirds = [(0, 1, 3), (1, 2, 3), (2, 3, 3)]
    assert [part(10, *b) for b in thirds] == [3, 3, 4]
    assert [part(-10, *b) for b in thirds] == [-3, -3, -4]
    assert [part(1, 0, 1, 2), part(1, 1, 2, 2)] == [0, 1]  # a lone unit goes to the later owner
    # $0.02 three ways at femto-dollars; a cost beyond them keeps the rest for the last owner
    assert [part_money(D("0.02"), *b) for b in thirds] == [
        D("0.006666666666666"),
        D("0.006666666666667"),
        D("0.006666666666667"),
    ]
    assert [part_money(D("1E-16"), *b) for b in thirds] == [D(0), D(0), D("1E-16")]


def test_the_ledger_column_packs_each_owner_s_bounds():
    got = column({"customer_id": '{"a":3,"b":1}', "feature": "x"})
    a, b = (4 << 20 | 3) << 20 | 0, (4 << 20 | 4) << 20 | 3  # (total, high, low) of a, then of b
    assert got == f'{{"customer_id":{{"a":{a},"b":{b}}}}}'


def test_renamed_keeps_the_proportions():
    assert renamed('{"b":2,"a":6}', str.upper) == '{"A":3,"B":1}'
    assert renamed('["b","a"]', str.upper) == '["A","B"]'
    assert renamed("acme", str.upper) is None
