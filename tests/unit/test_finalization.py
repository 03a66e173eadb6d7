"""Finalization rules and late-data corrections, on hand-written invoices (no warehouse)."""

from datetime import date

from billing_dagster.invoicing.adjustments import (
    adjustment_line,
    corrections,
    credit_note,
    line_differences,
    with_adjustments,
)
from billing_dagster.invoicing.finalization import (
    carrier_period,
    finalization_problems,
    grace_ends,
    period_due,
    rerated_periods,
)


def invoice(customer: str, period: str, total: str, api_calls: str, amount: str) -> dict:
    return {
        "invoice_id": f"INV-{period}-{customer}",
        "customer_id": customer,
        "period": period,
        "currency": "USD",
        "status": "finalized",
        "lines": [
            {"kind": "fixed_fee", "code": "platform", "group": None, "subscription_id": "s1"}
            | {"quantity": "1", "amount": "49.00"},
            {"kind": "usage", "code": "api_calls", "group": None, "subscription_id": "s1"}
            | {"quantity": api_calls, "amount": amount},
        ],
        "adjustments": "0.00",
        "total": total,
    }


def test_the_grace_period_counts_days_after_the_periods_end():
    assert grace_ends("2026-10", 3) == date(2026, 11, 4)
    assert grace_ends("2026-12", 0) == date(2027, 1, 1)


def test_the_period_due_is_the_last_one_whose_grace_has_ended():
    assert period_due(date(2026, 11, 4), 3) == "2026-10"
    assert period_due(date(2026, 11, 3), 3) == "2026-09"
    assert period_due(date(2027, 1, 1), 0) == "2026-12"


def test_late_data_is_carried_by_the_period_after_the_last_finalized_one():
    assert carrier_period([]) is None
    assert carrier_period(["2026-09", "2026-10"]) == "2026-11"
    assert carrier_period(["2026-12"]) == "2027-01"


def test_a_period_is_finalized_after_its_grace_period_and_in_order():
    billed = ["2026-09", "2026-10"]
    assert finalization_problems("2026-09", date(2026, 10, 4), 3, billed, []) == []
    assert finalization_problems("2026-10", date(2026, 11, 3), 3, billed, []) == [
        "period 2026-10 is in its grace period until 2026-11-04 (3 days after its end, "
        "BILLING_FINALIZE_GRACE_DAYS): late events may still arrive",
        "earlier billed periods are not finalized: 2026-09; periods are finalized in order",
    ]
    assert finalization_problems("2026-11", date(2026, 12, 20), 3, billed, ["2026-09"]) == [
        "period 2026-11 has not been billed; run `billing bill --period 2026-11`",
        "earlier billed periods are not finalized: 2026-10; periods are finalized in order",
    ]


def test_an_unchanged_period_has_no_correction():
    billed = {"acme": invoice("acme", "2026-10", "79.00", "60", "30.00")}
    corrected = {"acme": invoice("acme", "2026-10", "79.00", "60", "30.00")}
    assert corrections("2026-10", billed, corrected) == []


def test_more_usage_is_an_adjustment_line_explained_by_the_lines_that_changed():
    billed = {"acme": invoice("acme", "2026-10", "79.00", "60", "30.00")}
    corrected = {"acme": invoice("acme", "2026-10", "84.50", "71", "35.50")}
    [correction] = corrections("2026-10", billed, corrected)
    assert adjustment_line(correction) == {
        "kind": "adjustment",
        "code": "2026-10",
        "group": None,
        "adjusts_invoice": "INV-2026-10-acme",
        "billed_total": "79.00",
        "corrected_total": "84.50",
        "amount": "5.50",
        "details": [
            {"kind": "usage", "code": "api_calls", "group": None, "subscription_id": "s1"}
            | {"quantity_billed": "60", "quantity_corrected": "71"}
            | {"amount_billed": "30.00", "amount_corrected": "35.50"}
        ],
    }


def test_less_usage_is_a_credit_note_for_the_difference():
    billed = {"acme": invoice("acme", "2026-10", "79.00", "60", "30.00")}
    corrected = {"acme": invoice("acme", "2026-10", "74.00", "50", "25.00")}
    [correction] = corrections("2026-10", billed, corrected)
    note = credit_note(correction, "2026-11")
    assert {k: v for k, v in note.items() if k != "lines"} == {
        "credit_note_id": "CN-2026-11-acme-2026-10",
        "customer_id": "acme",
        "period": "2026-11",
        "adjusts_period": "2026-10",
        "adjusts_invoice": "INV-2026-10-acme",
        "currency": "USD",
        "status": "draft",
        "billed_total": "79.00",
        "corrected_total": "74.00",
        "total": "5.00",
    }
    assert [(d["quantity_billed"], d["quantity_corrected"]) for d in note["lines"]] == [
        ("60", "50")
    ]


def test_adjustments_add_to_the_carrying_invoice_or_make_one():
    november = invoice("acme", "2026-11", "100.00", "10", "0.00") | {"status": "draft"}
    billed = {
        "acme": invoice("acme", "2026-10", "79.00", "60", "30.00"),
        "gone": invoice("gone", "2026-10", "49.00", "0", "0.00"),
    }
    corrected = {
        "acme": invoice("acme", "2026-10", "80.00", "62", "31.00"),
        "gone": invoice("gone", "2026-10", "49.50", "1", "0.50"),
    }
    found = corrections("2026-10", billed, corrected)
    drafts = with_adjustments([november], found, "2026-11")
    assert [(i["invoice_id"], i["adjustments"], i["total"]) for i in drafts] == [
        ("INV-2026-11-acme", "1.00", "101.00"),
        ("INV-2026-11-gone", "0.50", "0.50"),
    ]
    assert [line["kind"] for line in drafts[1]["lines"]] == ["adjustment"]


def test_a_customer_whose_invoice_disappears_is_credited_in_full():
    billed = {"acme": invoice("acme", "2026-10", "79.00", "60", "30.00")}
    [correction] = corrections("2026-10", billed, {})
    assert correction.difference == -79
    assert [d["amount_corrected"] for d in line_differences(billed["acme"], None)] == ["0", "0"]


def test_adjustments_a_finalized_invoice_carried_are_not_its_own_charges():
    """November carried a 5.00 adjustment for October; re-rated, its own 10.00 is unchanged."""
    carried = invoice("acme", "2026-11", "15.00", "10", "10.00")
    carried["lines"].append({"kind": "adjustment", "code": "2026-10", "amount": "5.00"})
    carried["adjustments"] = "5.00"
    rerated = invoice("acme", "2026-11", "10.00", "10", "10.00")
    assert corrections("2026-11", {"acme": carried}, {"acme": rerated}) == []
    assert line_differences(carried, rerated) == []
    more = invoice("acme", "2026-11", "11.00", "11", "11.00")
    [correction] = corrections("2026-11", {"acme": carried}, {"acme": more})
    assert adjustment_line(correction)["billed_total"] == "10.00"
    assert adjustment_line(correction)["amount"] == "1.00"
    assert [d["kind"] for d in adjustment_line(correction)["details"]] == ["usage"]


def test_a_late_period_is_re_rated_with_every_finalized_period_after_it():
    finalized = ["2026-08", "2026-09", "2026-10", "2026-11"]
    assert rerated_periods(finalized, []) == []
    assert rerated_periods(finalized, ["2026-09"]) == ["2026-09", "2026-10", "2026-11"]
    assert rerated_periods(finalized, ["2026-11", "2026-08"]) == finalized
