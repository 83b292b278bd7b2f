"""The installed `nux` package imports none of the test-only libraries (the digits data and its baselines live in
tests/quantizer), so `pip install nux` without the dev extra gives a package that works."""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

TEST_ONLY = {"sklearn", "scipy", "torch"}
PACKAGES = ("nux", "nux.rtl", "nux.sim", "nux.driver")  # setup.py maps these folders into `nux`


def imported_roots(path: Path) -> set[str]:
    """Top-level module names a source file imports anywhere (module level or inside functions)."""
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def test_no_module_of_the_package_imports_test_only_libraries():
    folders = {Path(loc) for name in PACKAGES for loc in importlib.util.find_spec(name).submodule_search_locations}
    files = sorted({f for folder in folders for f in folder.rglob("*.py")})
    assert len(files) > 20  # the scan found the package
    offenders = {str(f): sorted(imported_roots(f) & TEST_ONLY) for f in files if imported_roots(f) & TEST_ONLY}
    assert offenders == {}
