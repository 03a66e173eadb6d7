"""A month of realistic sample events for the demo catalog, with the mess real feeds have:
exact duplicates, conflicting resends, corrections (including a chain and voids) and bad
lines. Seeded, so the same month always produces the same bytes (and loads only once)."""

from __future__ import annotations

import calendar
import json
import random
from datetime import UTC, datetime, timedelta

#: Per customer: API calls per day, completions per day, GPU jobs per day, seats.
PROFILES = {
    "acme": (320, 140, 3, 25),
    "globex": (90, 60, 1, 8),
    "initech": (150, 80, 2, 12),
    "umbrella": (40, 30, 0, 3),
    "zeta": (60, 220, 4, 40),
}
MODELS = ["nimbus-small", "nimbus-medium", "nimbus-large"]
STATUSES = ["200"] * 16 + ["201", "400", "429", "500"]


def sample_month(period: str, seed: int = 7) -> list[str]:
    """JSONL lines for every day of `period` (YYYY-MM)."""
    rng = random.Random(seed)
    year, month = map(int, period.split("-"))
    days = calendar.monthrange(year, month)[1]
    events: list[dict] = []
    for customer, (calls, completions, gpu_jobs, seats) in PROFILES.items():
        for day in range(1, days + 1):
            start = datetime(year, month, day, tzinfo=UTC)
            events += _day_events(rng, customer, start, calls, completions, gpu_jobs, seats)
    events.sort(key=lambda e: e["timestamp"])
    lines = [json.dumps(e, separators=(",", ":")) for e in events]
    return _add_mess(rng, lines, events, period)


def _at(rng: random.Random, day: datetime) -> str:
    moment = day + timedelta(milliseconds=rng.randrange(86_400_000))
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _day_events(rng, customer, day, calls, completions, gpu_jobs, seats) -> list[dict]:
    key = f"{customer}-{day:%Y%m%d}"
    out = []
    for n in range(rng.randint(calls // 2, calls)):
        out.append(
            {
                "event_id": f"{key}-req-{n}",
                "customer_id": customer,
                "event_name": "api_request",
                "timestamp": _at(rng, day),
                "properties": {"status": rng.choice(STATUSES), "user_id": f"u{rng.randrange(60)}"},
            }
        )
    for n in range(rng.randint(completions // 2, completions)):
        out.append(
            {
                "event_id": f"{key}-cmp-{n}",
                "customer_id": customer,
                "event_name": "completion",
                "timestamp": _at(rng, day),
                "properties": {"model": rng.choice(MODELS), "tokens": rng.randint(50, 4000)},
            }
        )
    for n in range(gpu_jobs):
        seconds = f"{rng.randint(30, 900)}.{rng.randrange(10)}"
        out.append(
            {
                "event_id": f"{key}-gpu-{n}",
                "customer_id": customer,
                "event_name": "gpu_job",
                "timestamp": _at(rng, day),
                "properties": {"seconds": float(seconds), "concurrency": rng.randint(1, 8)},
            }
        )
    out.append(
        {
            "event_id": f"{key}-seats",
            "customer_id": customer,
            "event_name": "seat_snapshot",
            "timestamp": _at(rng, day),
            "properties": {"seats": seats + rng.randint(-2, 2)},
        }
    )
    out.append(
        {
            "event_id": f"{key}-storage",
            "customer_id": customer,
            "event_name": "storage_snapshot",
            "timestamp": _at(rng, day),
            "properties": {"gb": rng.randint(40, 400)},
        }
    )
    return out


def _add_mess(rng: random.Random, lines: list[str], events: list[dict], period: str) -> list[str]:
    """Resends, corrections and bad lines, appended the way a retrying client sends them."""
    resends = rng.sample(lines, len(lines) // 50)  # 2% exact duplicates
    conflicting = []
    for event in rng.sample(events, 3):  # same id, different content: a conflict
        changed = dict(event, properties={**event["properties"], "edited": True})
        conflicting.append(json.dumps(changed, separators=(",", ":")))
    corrections = []
    completions = [e for e in events if e["event_name"] == "completion"]
    for number, original in enumerate(rng.sample(completions, 6)):
        fixed = dict(
            original,
            event_id=f"{original['event_id']}-fix",
            replaces=original["event_id"],
            properties={**original["properties"], "tokens": 1},
        )
        if number == 0:  # a chain: the fix is itself fixed
            corrections.append(json.dumps(fixed))
            fixed = dict(fixed, event_id=f"{fixed['event_id']}-2", replaces=fixed["event_id"])
        if number == 1:  # the original should never have been sent
            fixed = dict(fixed, void=True)
        corrections.append(json.dumps(fixed))
    bad = [
        '{"event_id": "broken-1", "customer_id": "acme", ',
        json.dumps({"event_id": "no-time", "customer_id": "acme", "event_name": "api_request"}),
        json.dumps(
            {
                "event_id": "bad-time",
                "customer_id": "acme",
                "event_name": "api_request",
                "timestamp": f"{period}-05 10:00",
            }
        ),
        json.dumps(
            {
                "event_id": "who",
                "customer_id": "hooli",
                "event_name": "api_request",
                "timestamp": f"{period}-05T10:00:00Z",
            }
        ),
        json.dumps(
            {
                "event_id": 42,
                "customer_id": "acme",
                "event_name": "api_request",
                "timestamp": f"{period}-05T10:00:00Z",
            }
        ),
    ]
    return lines + resends + conflicting + corrections + bad
