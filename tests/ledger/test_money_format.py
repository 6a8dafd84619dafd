"""Money for people: the sign goes before the dollar, in table cells and in footers."""

from __future__ import annotations

import io
from decimal import Decimal as D

from costline_processor.ledger.render import cell, money, render, total_money


def test_negative_money_has_its_sign_before_the_dollar():
    assert money(D("-0.0057")) == "-$0.0057"
    assert money(D("-1234.5"), 2) == "-$1,234.50"
    assert money(D("0.10"), 2, sign=True) == "+$0.10" and money(D("-0.10"), 2, sign=True) == "-$0.10"
    assert money(D("-0.00001")) == "$0.0000"  # rounds to nothing: no sign on a zero
    assert cell("gap_usd", D("-0.0257")) == "-$0.0257"
    assert cell("gap_usd", D("-0.0057")) == "-$0.0057"  # below a cent: the places that show it (issue 17)


def test_tables_never_print_a_minus_after_the_dollar():
    out = io.StringIO()
    render([{"model": "gpt-4o", "gap_usd": D("-0.0500")}], "table", out, footer=[f"gap {money(D('-0.05'), 2)}"])
    text = out.getvalue()
    assert "-$0.0500" in text and "-$0.05" in text and "$-" not in text


def test_totals_in_cents_and_small_amounts_never_read_as_zero():
    assert total_money(D("1234.5678")) == "$1,234.57" and total_money(D("0.15")) == "$0.15"
    assert total_money(D("0.0057")) == "$0.0057" and total_money(D("-0.0057")) == "-$0.0057"
    assert total_money(D("0")) == "$0.00"
    assert cell("cost_usd", D("0.00000012")) == "$0.00000012"  # six places would print $0.000000
    assert cell("cost_usd", D("0.5")) == "$0.5000" and cell("avg_cost_usd", D("0.0123456")) == "$0.0123"
    assert cell("cost_usd", D("12345.678912")) == "$12,345.6789"


def test_csv_writes_every_digit_of_an_amount():
    """CSV keeps exact decimals: a sum of GPU-hour costs (28 digits each) has more than 28, which normalize() in the
    default context rounded away (9075.603749572572512762858731 for 9075.6037495725725127628587314444444)."""
    from costline_processor.ledger.render import exact

    assert exact(D("9075.6037495725725127628587314444444")) == "9075.6037495725725127628587314444444"
    assert exact(D("0.50")) == "0.5" and exact(D("1E+3")) == "1000" and exact(D("1E-7")) == "0.0000001"
    assert (
        exact(D("-0")) == "0"
        and exact(D("0E-10")) == "0"
        and exact(D("-12000.000000000000000001")) == ("-12000.000000000000000001")
    )
