"""The landing zone: files land under names of their own, and a failed copy leaves nothing."""

from __future__ import annotations

import errno
import shutil
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


def test_a_copy_that_fails_leaves_no_partial_file(tmp_path, monkeypatch):
    source = tmp_path / "events.jsonl"
    source.write_text('{"n": 1}\n')

    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(shutil, "copyfile", disk_full)
    with pytest.raises(OSError, match="No space left"):
        landing.land(tmp_path / "home", source, DAY)
    assert list(landing.day_directory(tmp_path / "home", DAY).iterdir()) == []
