"""The pure rules behind the data-quality checks: file sequences, hourly gaps, invoice
arithmetic, quarantine severity and message listings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import dagster as dg

from billing_dagster.defs.quality.rules import (
    Gap,
    hourly_gaps,
    invoice_problems,
    listing,
    missing_in_sequences,
    quarantine_severity,
)

T0 = datetime(2026, 10, 1, tzinfo=UTC)


def hours(*numbers: int) -> list[datetime]:
    return [T0 + timedelta(hours=n) for n in numbers]


def test_missing_files_of_a_numbered_sequence():
    names = ["events-0001.jsonl", "events-0004.jsonl", "events-0003.jsonl", "other.jsonl"]
    assert missing_in_sequences(names) == {
        "events-NNNN.jsonl": ["events-0002.jsonl"],
    }


def test_sequences_differ_by_stem_and_suffix_and_need_not_be_padded():
    names = ["a-1.jsonl", "a-3.jsonl", "a-2.jsonl.gz", "b_9.ndjson", "b_12.ndjson"]
    assert missing_in_sequences(names) == {
        "a-N.jsonl": ["a-2.jsonl"],
        "b_N.ndjson": ["b_10.ndjson", "b_11.ndjson"],
    }


def test_only_the_sequences_of_touched_files_are_reported():
    names = ["a-1.jsonl", "a-3.jsonl", "b-1.jsonl", "b-3.jsonl"]
    assert missing_in_sequences(names, touched=["b-3.jsonl"]) == {"b-N.jsonl": ["b-2.jsonl"]}
    assert missing_in_sequences(names, touched=["c.jsonl"]) == {}


def test_gaps_of_a_source_that_sends_every_hour():
    seen = hours(*range(0, 10), *range(12, 30), 31)
    assert hourly_gaps("web", seen) == [
        Gap("web", T0 + timedelta(hours=10), T0 + timedelta(hours=12)),
        Gap("web", T0 + timedelta(hours=30), T0 + timedelta(hours=31)),
    ]
    assert str(hourly_gaps("web", seen)[0]) == (
        'source "web": no events from 2026-10-01T10:00Z to 2026-10-01T12:00Z (2 h)'
    )


def test_no_gaps_for_sparse_or_short_lived_sources():
    assert hourly_gaps("nightly", hours(0, 24, 48)) == []  # a daily batch: most hours empty
    assert hourly_gaps("new", hours(0, 1, 3)) == []  # too short a span to judge
    assert hourly_gaps("none", []) == []


def test_naive_warehouse_timestamps_are_utc():
    naive = [h.replace(tzinfo=None) for h in hours(*range(0, 10), *range(11, 30))]
    (gap,) = hourly_gaps("web", naive)
    assert gap.start == T0 + timedelta(hours=10)


FIGURES = {
    "charges": Decimal("52.60"),
    "subtotal": Decimal("100.00"),
    "discount": Decimal("10.00"),
    "tax": Decimal("18.00"),
    "credits_applied": Decimal("108.00"),
    "total": Decimal("0.00"),
}
LINES = [
    ("fixed_fee", Decimal("49.00")),
    ("usage", Decimal("3.60")),
    ("minimum_commitment", Decimal("47.40")),
    ("discount", Decimal("-10.00")),
    ("tax", Decimal("18.00")),
    ("credit", Decimal("-108.00")),
]


def test_the_contract_example_invoice_adds_up():
    assert invoice_problems("INV-1", "acme", "USD", FIGURES, LINES) == []


def test_adjustment_lines_add_to_the_total():
    adjusted = {**FIGURES, "total": Decimal("5.00")}
    assert (
        invoice_problems("INV-1", "acme", "USD", adjusted, [*LINES, ("adjustment", Decimal("5"))])
        == []
    )


def test_the_interim_invoiced_line_is_deducted_before_tax():
    """Threshold invoicing: the zeta invoice of the demo, 55.46 of its usage billed by an
    interim invoice with its tax (10.54) of the 96.04 on the whole."""
    figures = {
        "charges": Decimal("505.46"),
        "subtotal": Decimal("505.46"),
        "discount": Decimal("0"),
        "tax": Decimal("85.50"),
        "credits_applied": Decimal("0"),
        "total": Decimal("535.50"),
    }
    lines = [
        ("fixed_fee", Decimal("450.00")),
        ("usage", Decimal("55.46")),
        ("interim_invoiced", Decimal("-55.46")),
        ("tax", Decimal("85.50")),
    ]
    assert invoice_problems("INV-1", "zeta", "EUR", figures, lines) == []
    assert invoice_problems("INV-1", "zeta", "EUR", figures | {"total": Decimal("1")}, lines)[
        0
    ] == (
        "invoice INV-1 (customer zeta): total is 1.00 but subtotal - discount - interim_invoiced "
        "+ tax - credits_applied + adjustments is 535.50"
    )


def test_an_unknown_kind_is_a_problem_only_when_it_breaks_the_sum():
    assert invoice_problems("INV-1", "acme", "USD", FIGURES, [*LINES, ("note", Decimal("0"))]) == []
    assert invoice_problems(
        "INV-1", "acme", "USD", FIGURES, [*LINES, ("note", Decimal("1.5"))]
    ) == ["invoice INV-1 (customer acme): total is 0.00 but its lines sum to 1.50"]


def test_each_figure_that_differs_from_its_lines_is_named_with_both_amounts():
    wrong = {**FIGURES, "tax": Decimal("18.01"), "total": Decimal("-1.00")}
    assert invoice_problems("INV-1", "acme", "USD", wrong, LINES) == [
        "invoice INV-1 (customer acme): tax is 18.01 but its tax lines sum to 18.00",
        "invoice INV-1 (customer acme): total is -1.00 but subtotal - discount + tax - "
        "credits_applied + adjustments is 0.01",
        "invoice INV-1 (customer acme): total is -1.00 but its lines sum to 0.00",
        "invoice INV-1 (customer acme): total is negative (-1.00)",
    ]


def test_quarantine_is_an_error_above_one_percent_of_lines():
    assert quarantine_severity(1, 100) == dg.AssetCheckSeverity.WARN
    assert quarantine_severity(2, 100) == dg.AssetCheckSeverity.ERROR
    assert quarantine_severity(0, 0) == dg.AssetCheckSeverity.WARN


def test_listing_shows_the_first_five_and_counts_the_rest():
    assert listing(["a", "b"]) == "a; b"
    assert listing([str(n) for n in range(7)]) == "0; 1; 2; 3; 4; and 2 more"
    assert listing(["a"], total=3) == "a; and 2 more"
