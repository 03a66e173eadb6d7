"""The API's answer cache: an answer is computed once per data version and key, again as
soon as the version changes, and the least recently used answers go first."""

from __future__ import annotations

from billing_dagster.api.answer_cache import AnswerCache


def test_an_answer_is_kept_while_the_data_version_holds():
    version = [1]
    computed: list[str] = []

    def compute(key: str):
        return lambda: computed.append(key) or f"{key}@{version[0]}"

    cache = AnswerCache(lambda: tuple(version), size=2)
    assert cache.get("a", compute("a")) == "a@1"
    assert cache.get("a", compute("a")) == "a@1"
    assert computed == ["a"]
    version[0] = 2  # the pipeline wrote
    assert cache.get("a", compute("a")) == "a@2"
    assert computed == ["a", "a"]
    cache.get("b", compute("b"))
    cache.get("a", compute("a"))  # a is now the most recently used
    cache.get("c", compute("c"))  # evicts b, not a
    cache.get("a", compute("a"))
    cache.get("b", compute("b"))
    assert computed == ["a", "a", "b", "c", "b"]
