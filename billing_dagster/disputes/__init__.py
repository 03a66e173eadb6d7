"""Disputes of invoice payments: pulled from the gateways, kept append-only, and the blocks
(past due, dispute lost) that a plan may put on a customer's hard-limited features."""
