"""What an invoice says of its period in the customer's time zone (docs/invoicing.md)."""

from __future__ import annotations

from billing_dagster.periods import period_fields


def test_a_utc_customer_gets_no_period_fields():
    assert period_fields("2026-10", "UTC") == {}


def test_the_period_in_local_time_and_in_utc_across_a_dst_change():
    assert period_fields("2026-11", "America/Los_Angeles") == {
        "timezone": "America/Los_Angeles",
        "period_start": "2026-11-01T00:00:00-07:00",  # DST ends at 02:00 that day
        "period_end": "2026-12-01T00:00:00-08:00",
        "period_start_utc": "2026-11-01T07:00:00Z",
        "period_end_utc": "2026-12-01T08:00:00Z",
    }


def test_half_hour_offsets_and_plus_14():
    lord_howe = period_fields("2026-10", "Australia/Lord_Howe")  # +10:30, then +11 from 4 Oct
    assert (lord_howe["period_start"], lord_howe["period_end"]) == (
        "2026-10-01T00:00:00+10:30",
        "2026-11-01T00:00:00+11:00",
    )
    assert (lord_howe["period_start_utc"], lord_howe["period_end_utc"]) == (
        "2026-09-30T13:30:00Z",
        "2026-10-31T13:00:00Z",
    )
    assert period_fields("2026-10", "Pacific/Kiritimati")["period_start_utc"] == (
        "2026-09-30T10:00:00Z"
    )
