"""Requests checked together: each gets exactly its own rows, in order, whether it ran
the round or waited for another's; an error reaches every request of its round."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from billing_dagster.ingest.check_rounds import CheckRounds


def test_waiting_requests_share_a_round_and_get_their_own_rows():
    started, release, rounds = threading.Event(), threading.Event(), []

    def run(lines: list[str]) -> list[str]:
        rounds.append(list(lines))
        if len(rounds) == 1:
            started.set()
            release.wait()  # the first round runs until every other request is waiting
        return [line.upper() for line in lines]

    checker = CheckRounds(run)
    with ThreadPoolExecutor(5) as pool:
        first = pool.submit(checker.check, ["a0"])
        started.wait()
        others = [pool.submit(checker.check, [f"b{i}", f"c{i}"]) for i in range(4)]
        while True:  # until the four wait (a condition, not a timing)
            with checker._changed:
                if len(checker._pending) == 4:
                    break
        release.set()
        assert first.result() == ["A0"]
        assert [f.result() for f in others] == [[f"B{i}", f"C{i}"] for i in range(4)]
    assert len(rounds) == 2
    assert sorted(rounds[1]) == sorted(f"{p}{i}" for i in range(4) for p in "bc")


def test_a_round_is_bounded_and_an_error_reaches_its_requests():
    calls = []

    def run(lines: list[str]) -> list[str]:
        calls.append(len(lines))
        if "boom" in lines:
            raise RuntimeError("the warehouse is down")
        return lines

    checker = CheckRounds(run, max_lines=2)
    assert checker.check(["x", "y", "z"]) == ["x", "y", "z"]  # one request over the bound
    with pytest.raises(RuntimeError, match="the warehouse is down"):
        checker.check(["boom"])
    assert checker.check(["after"]) == ["after"]
    assert calls == [3, 1, 1]
