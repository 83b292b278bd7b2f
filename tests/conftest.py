"""Shared fixtures: where the real models live (NUX_TEST_DATA, default ../shared/data)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def test_data() -> Path:
    """The shared test-data folder; CI provides it, so a missing folder is an error, not a skip."""
    path = Path(os.environ.get("NUX_TEST_DATA", REPO.parent / "shared" / "data"))
    if not (path / "models").is_dir():
        raise FileNotFoundError(f"test data not found at {path}; set NUX_TEST_DATA")
    return path
