"""The layering contract (pyproject.toml `[tool.importlinter]`, docs/architecture.md) holds, and it can fail.

import-linter walks one directory per package, but `nux` is assembled from four folders (setup.py FOLDERS), and the
editable install reports only sdk/nux. So the check runs on a copy of the Python sources laid out as installed, in
a subprocess whose first path entry is that copy. The same copy with one deliberate upward import must break the
contract that forbids it: a contract that cannot fail checks nothing.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from importlinter.api import read_configuration

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "pyproject.toml"
CONTRACTS = {c["id"]: c["name"] for c in read_configuration(str(CONFIG))["contracts_options"]}


def package_folders() -> dict[str, str]:
    """setup.py's FOLDERS (package -> folder): the one place the tree's layout is written."""
    for node in ast.parse((REPO / "setup.py").read_text()).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "FOLDERS" for t in node.targets):
            return ast.literal_eval(node.value)
    raise AssertionError("setup.py defines no FOLDERS")


def _not_python(folder: str, names: list[str]) -> list[str]:
    return [n for n in names if n == "__pycache__" or not (n.endswith(".py") or (Path(folder) / n).is_dir())]


def installed_copy(root: Path) -> Path:
    """The Python sources of every nux package under root/nux, as setup.py installs them."""
    for package, folder in package_folders().items():
        target = root.joinpath(*package.split("."))
        shutil.copytree(REPO / folder, target, ignore=_not_python, dirs_exist_ok=True)
    return root


def lint(root: Path) -> subprocess.CompletedProcess:
    """import-linter with the repository's contracts on the copy at root (it puts the cwd first on sys.path)."""
    code = (
        "import sys; from importlinter.cli import lint_imports; "
        f"sys.exit(lint_imports(config_filename={str(CONFIG)!r}, no_cache=True, no_logo=True))"
    )
    return subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    return installed_copy(tmp_path_factory.mktemp("layers"))


def test_every_module_of_every_folder_is_analysed(tree):
    """The copy really holds the four folders (a layer missing from the graph would pass vacuously)."""
    for package in package_folders():
        assert (tree.joinpath(*package.split(".")) / "__init__.py").is_file(), package
    assert (tree / "nux" / "driver" / "golden_backend.py").is_file()


def test_contracts_hold(tree):
    result = lint(tree)
    assert result.returncode == 0, result.stdout + result.stderr
    for name in CONTRACTS.values():
        assert f"{name} KEPT" in result.stdout


VIOLATIONS = [
    # (module added to the copy, its source, contract it must break)
    ("nux/isa/_upward.py", "import nux.driver\n", "layers"),  # the ground floor imports a middle layer
    ("nux/golden/_upward.py", "from nux.reference import run_onnx\n", "layers"),  # ... or a service above it
    ("nux/rtl/_upward.py", "import nux.cli\n", "layers"),  # a middle layer imports the top
    ("nux/compiler/__init__.py", "import nux.cli\n", "layers"),  # an optional layer, once it exists, is checked
    ("nux/driver/_upward.py", "from nux.sim import build\n", "driver-backends"),  # bypasses the registry
    ("nux/rtl/_software.py", "from nux.driver import Npu\n", "rtl-from-isa"),  # hardware built from software
]


@pytest.mark.parametrize(("path", "source", "contract"), VIOLATIONS, ids=[v[0] for v in VIOLATIONS])
def test_a_deliberate_violation_breaks_the_contract(tmp_path, path, source, contract):
    root = installed_copy(tmp_path)
    (root / path).parent.mkdir(parents=True, exist_ok=True)
    (root / path).write_text(source)
    result = lint(root)
    assert result.returncode != 0, result.stdout
    assert f"{CONTRACTS[contract]} BROKEN" in result.stdout, result.stdout + result.stderr
    module = path.removesuffix(".py").removesuffix("/__init__").replace("/", ".")
    assert module in result.stdout  # the report names the offending module
