"""Webhooks: events written once to an outbox (`outbox`), endpoints that subscribe to them
(`endpoints`), and a deliverer that posts each event to each endpoint, signed
(`signing`), retrying with backoff for 24 hours and recording every attempt
(`delivery`)."""
