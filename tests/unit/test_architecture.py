"""The layers hold: the contracts in pyproject.toml ([tool.importlinter]) pass on the package, and they
fail on a copy of it with one import that goes upwards, naming the import."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from wpcluster.core.shape import PROJECT_ROOT

LINT_IMPORTS = str(Path(sys.executable).with_name("lint-imports"))


def lint_imports(cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([LINT_IMPORTS, "--no-cache"], cwd=cwd, capture_output=True, text=True, timeout=120,
                          env={"PATH": str(Path(sys.executable).parent), "PYTHONPATH": str(cwd)})


def test_the_package_keeps_its_layers():
    done = lint_imports(PROJECT_ROOT)
    assert done.returncode == 0, f"an import breaks the layers (pyproject.toml [tool.importlinter]):\n{done.stdout}"
    assert "0 broken" in done.stdout


def test_an_import_that_goes_upwards_is_named(tmp_path):
    shutil.copytree(PROJECT_ROOT / "wpcluster", tmp_path / "wpcluster", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(PROJECT_ROOT / "pyproject.toml", tmp_path)
    waits = tmp_path / "wpcluster" / "core" / "waits.py"
    waits.write_text(waits.read_text() + "\nfrom wpcluster.report import bundle  # noqa: E402\n")
    done = lint_imports(tmp_path)
    assert done.returncode != 0, done.stdout
    assert "wpcluster.core.waits -> wpcluster.report.bundle" in done.stdout, done.stdout
