"""Playwright on Debian's Chromium (`make test` installs it): Playwright's own browser
download is not reachable from these machines (DESIGN.md §3)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": ["--no-sandbox"]}


@pytest.fixture
def console_errors(page) -> list[str]:
    """Every console error and uncaught exception of the test's page: a test asserts it
    stays empty."""
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error"
            else None)  # fmt: skip
    page.on("pageerror", lambda error: errors.append(str(error)))
    return errors


@pytest.fixture
def screenshots(tmp_path) -> Path:
    """Where the pages' screenshots go: `PORTAL_SCREENSHOTS=docs` for the docs, else the
    test's own directory."""
    return Path(os.environ.get("PORTAL_SCREENSHOTS", tmp_path))
