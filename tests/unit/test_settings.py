"""The environment is read once, into checked settings; a value that cannot be used is
refused with the variable's name and what is expected."""

from __future__ import annotations

import pytest

from billing_dagster.settings import Settings, SettingsError


def test_an_empty_environment_is_the_embedded_warehouse_and_the_defaults():
    settings = Settings.from_env({})
    assert settings.warehouse.host == ""
    assert settings.warehouse.database == "billing"
    assert settings.finalize_grace_days == 3
    assert (settings.gateway.kind, settings.gateway.retry_attempts) == ("file", 6)


def test_a_named_server_is_read_whole():
    settings = Settings.from_env(
        {
            "CLICKHOUSE_HOST": "ch.internal",
            "CLICKHOUSE_PORT": "8443",
            "CLICKHOUSE_SECURE": "true",
            "CLICKHOUSE_DATABASE": "billing_eu_2",
            "BILLING_FINALIZE_GRACE_DAYS": "0",
            "BILLING_GATEWAY": "stripe",
        }
    )
    warehouse = settings.warehouse
    assert (warehouse.host, warehouse.port, warehouse.secure) == ("ch.internal", 8443, True)
    assert warehouse.database == "billing_eu_2"
    assert (settings.finalize_grace_days, settings.gateway.kind) == (0, "stripe")


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        (
            "CLICKHOUSE_DATABASE",
            "billing`; DROP TABLE x",
            "CLICKHOUSE_DATABASE='billing`; DROP TABLE x': expected a database name of letters, "
            "digits and underscores, not starting with a digit",
        ),
        (
            "CLICKHOUSE_DATABASE",
            "2026",
            "CLICKHOUSE_DATABASE='2026': expected a database name of letters, digits and "
            "underscores, not starting with a digit",
        ),
        (
            "BILLING_FINALIZE_GRACE_DAYS",
            "three",
            "BILLING_FINALIZE_GRACE_DAYS='three': expected a whole number, e.g. 3",
        ),
        ("CLICKHOUSE_PORT", "-1", "CLICKHOUSE_PORT='-1': expected a whole number, e.g. 0"),
        (
            "BILLING_GATEWAY",
            "paypal",
            "BILLING_GATEWAY='paypal': expected one of stripe, chargebee, razorpay, file",
        ),
        (
            "BILLING_GATEWAY_RETRY_BASE_SECONDS",
            "1e9",
            "BILLING_GATEWAY_RETRY_BASE_SECONDS='1e9': expected a number of seconds, e.g. 0.2",
        ),
    ],
)
def test_unusable_values_are_refused_by_name(name, value, message):
    with pytest.raises(SettingsError) as refused:
        Settings.from_env({name: value})
    assert str(refused.value) == message
