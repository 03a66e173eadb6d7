"""The landing zone: files land under names of their own, and a failed copy leaves nothing."""

from __future__ import annotations

import hashlib
import resource
import time
from datetime import date

import pytest

from billing_dagster.ingest import landing

DAY = date(2026, 12, 1)


def test_files_of_the_same_name_land_apart(tmp_path):
    first, second = tmp_path / "a" / "events.jsonl", tmp_path / "b" / "events.jsonl"
    for path, text in ((first, '{"n": 1}\n'), (second, '{"n": 2}\n')):
        path.parent.mkdir()
        path.write_text(text)
    landed = [
        landing.land(tmp_path / "home", path, DAY, n) for n, path in enumerate((first, second))
    ]
    assert [f.path.read_text() for f in landed] == ['{"n": 1}\n', '{"n": 2}\n']
    assert [f.original_name for f in landing.landed_files(tmp_path / "home", DAY)] == [
        "events.jsonl",
        "events.jsonl",
    ]


def test_a_file_of_many_chunks_lands_whole_under_the_hash_of_its_bytes(tmp_path, monkeypatch):
    monkeypatch.setattr(landing, "_CHUNK", 7)
    source = tmp_path / "events.jsonl"
    source.write_bytes(b"".join(b'{"n": %d}\n' % n for n in range(100)))
    landed = landing.land(tmp_path / "home", source, DAY)
    assert landed.path.read_bytes() == source.read_bytes()
    assert landed.sha256 == hashlib.sha256(source.read_bytes()).hexdigest()
    assert landed.path.name.endswith(f"-{landed.sha256}.jsonl")


def test_a_copy_that_fails_leaves_no_partial_file(tmp_path, monkeypatch):
    """The copy fails at its third chunk: the process may write no file over 16 bytes."""
    monkeypatch.setattr(landing, "_CHUNK", 8)
    source = tmp_path / "events.jsonl"
    source.write_text('{"n": 1}\n{"n": 2}\n{"n": 3}\n')
    limits = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (16, limits[1]))
    try:
        with pytest.raises(OSError, match="File too large"):
            landing.land(tmp_path / "home", source, DAY)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, limits)
    assert list(landing.day_directory(tmp_path / "home", DAY).iterdir()) == []


def test_files_land_in_order_when_the_clock_straddles_a_second_or_steps_back(tmp_path, monkeypatch):
    """The first file's instant is late in a second; the second file's clock reading is in
    the same second, then one before it (a clock stepped back): names still sort in order."""
    second = 1_796_000_000 * 10**9
    readings = iter([second + 999_999_999, second + 5, second - 10**9])
    monkeypatch.setattr(time, "time_ns", lambda: next(readings))
    sources = []
    for n in range(3):
        sources.append(tmp_path / f"events-{n}.jsonl")
        sources[-1].write_text(f'{{"n": {n}}}\n')
    for source in sources:
        landing.land(tmp_path / "home", source, DAY)  # the same position: only time orders
    assert [f.original_name for f in landing.landed_files(tmp_path / "home", DAY)] == [
        "events-0.jsonl",
        "events-1.jsonl",
        "events-2.jsonl",
    ]
