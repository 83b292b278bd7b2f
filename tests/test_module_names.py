"""Every Python module under tests/ has a unique basename.

pytest imports test folders without __init__.py in "prepend" mode: each folder goes on sys.path and a module is
imported by its basename, so two files called test_build.py (or two helper modules of one name) in different
folders make whichever is collected second fail with "import file mismatch" -- or, for helpers, silently import
the other folder's file. conftest.py is the one name pytest itself keeps apart."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def test_module_basenames_are_unique():
    seen: dict[str, list[str]] = defaultdict(list)
    for path in TESTS.rglob("*.py"):
        if path.name != "conftest.py" and "__pycache__" not in path.parts:
            seen[path.stem].append(str(path.relative_to(TESTS)))
    clashes = {name: paths for name, paths in seen.items() if len(paths) > 1}
    assert not clashes, f"test modules sharing a basename (rename one): {clashes}"
