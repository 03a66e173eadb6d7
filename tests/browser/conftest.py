"""Playwright on Debian's Chromium (`make test` installs it): Playwright's own browser
download is not reachable from these machines (DESIGN.md §3)."""

from __future__ import annotations

import pytest

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": ["--no-sandbox"]}
