"""Fixtures of the golden-model tests."""

from __future__ import annotations

import pytest
from golden_rig import Rig


@pytest.fixture
def rig() -> Rig:
    return Rig()
