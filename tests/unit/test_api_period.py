"""The billing period a query may name: the months the CLI bills, from the first day events
may have, to the end of the century (the warehouse's dates end in 2149)."""

from __future__ import annotations

import re

from billing_dagster.api.models import PERIOD
from billing_dagster.ingest.loader import FIRST_EVENT_DATE
from billing_dagster.periods import period_of, previous_period


def test_a_query_names_a_month_from_the_first_billing_period_on():
    first = period_of(FIRST_EVENT_DATE)
    accepted = [first, "2026-12", "2099-12"]
    refused = [previous_period(first), "0000-01", "2026-13", "2026-00", "2026-1", "2100-01"]
    assert [p for p in accepted if re.match(PERIOD, p)] == accepted
    assert [p for p in refused if re.match(PERIOD, p)] == []
