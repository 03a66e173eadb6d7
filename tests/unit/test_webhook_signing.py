"""Webhook signatures: Stripe's `t=...,v1=...` scheme, checked against a vector computed by
hand, and refused when the body, the secret or the age is wrong."""

from __future__ import annotations

import hashlib
import hmac

from billing_dagster.webhooks.signing import signature, verify

BODY = b'{"id":"evt_1","note":"quote \\" and backslash \\\\"}'


def test_the_signature_is_hmac_sha256_of_timestamp_dot_body():
    expected = hmac.new(b"whsec_test", b"1700000000." + BODY, hashlib.sha256).hexdigest()
    assert signature("whsec_test", 1700000000, BODY) == f"t=1700000000,v1={expected}"


def test_verify_refuses_a_changed_body_another_secret_an_old_or_garbled_header():
    header = signature("whsec_test", 1700000000, BODY)
    assert verify("whsec_test", header, BODY, now=1700000100)
    assert not verify("whsec_test", header, BODY + b" ", now=1700000100)
    assert not verify("whsec_other", header, BODY, now=1700000100)
    assert not verify("whsec_test", header, BODY, now=1700000301)
    assert not verify("whsec_test", "v1=abc", BODY, now=1700000000)
    assert not verify("whsec_test", "t=x,v1=abc", BODY, now=1700000000)
