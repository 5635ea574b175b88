"""Every GitHub Actions workflow in .github/workflows/ passes actionlint.

The nightly certification (.github/workflows/nightly.yml) only ever runs on
GitHub, at night: a misspelled event, a bad cron, an expression naming nothing
or a wrong action input would show up as a night with no certification and no
bundle, long after the change that caused it. actionlint checks all of that
(and, where shellcheck is on PATH, the `run:` scripts) in seconds, so `tox`
catches it first. actionlint is built from the Go module proxy at one pinned
version and kept in the build cache; without Go these tests fail and say what
to install (CI installs Go).

The seeded-defect tests show the check is not hollow: a small workflow passes
as written, and with one known defect seeded into it actionlint exits with 1
and reports that defect's line.
"""

import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from wpcluster.core.build_cache import cache_dir
from wpcluster.core.shape import PROJECT_ROOT

# The newest version the Go module proxy offered (`go list -m -versions github.com/rhysd/actionlint`).
ACTIONLINT_VERSION = "v1.7.12"
ACTIONLINT_PACKAGE = "github.com/rhysd/actionlint/cmd/actionlint"
WORKFLOWS_DIR = PROJECT_ROOT / ".github" / "workflows"
# actionlint's exit status when it ran and found problems (2 is a bad command line, 3 a crash).
ACTIONLINT_FOUND_PROBLEMS = 1


@dataclass(frozen=True)
class Actionlint:
    """The pinned actionlint binary, or why it could not be built."""

    binary: Path | None
    why_missing: str = ""

    def check(self, *workflows: Path, cwd: Path, extra_args: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
        """Run actionlint on ``workflows``; fail the calling test if actionlint could not be built."""
        if self.binary is None:
            pytest.fail(self.why_missing, pytrace=False)
        command = [str(self.binary), "-no-color", *extra_args, *(str(w.relative_to(cwd)) for w in workflows)]
        return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=120)


def go_environment(tools: Path) -> dict[str, str]:
    """The environment for `go install`: Go keeps its module and build caches under HOME unless told otherwise."""
    env = dict(os.environ)
    if "HOME" not in env:
        env.setdefault("GOPATH", str(tools / "gopath"))
        env.setdefault("GOCACHE", str(tools / "go-build"))
    return env


def build_actionlint(version: str) -> Actionlint:
    """Return the cached actionlint ``version``, building it from the Go module proxy the first time."""
    tools = cache_dir() / "tools"
    binary = tools / f"actionlint-{version}" / "actionlint"
    if binary.is_file() and os.access(binary, os.X_OK):
        return Actionlint(binary)
    go = shutil.which("go")
    if go is None:
        return Actionlint(None, f"Go is not on PATH: install Go 1.25 or newer (https://go.dev/doc/install; in CI, "
                                f"actions/setup-go) to build actionlint {version} from the Go module proxy")
    tools.mkdir(parents=True, exist_ok=True)
    # Installed into a folder of its own and moved into place, so a build that stops halfway is never reused.
    with tempfile.TemporaryDirectory(dir=tools, prefix=f"actionlint-{version}.partial-") as partial:
        command = [go, "install", f"{ACTIONLINT_PACKAGE}@{version}"]
        build = subprocess.run(command, env={**go_environment(tools), "GOBIN": partial},
                               capture_output=True, text=True, timeout=600)
        if build.returncode != 0:
            return Actionlint(None, f"`{' '.join(command)}` failed (exit {build.returncode}):\n{build.stderr}")
        binary.parent.mkdir(exist_ok=True)
        (Path(partial) / "actionlint").replace(binary)
    return Actionlint(binary)


@pytest.fixture(scope="session")
def actionlint() -> Actionlint:
    return build_actionlint(ACTIONLINT_VERSION)


def test_every_workflow_passes_actionlint(actionlint):
    # GitHub reads only the .yml and .yaml files directly in this folder.
    workflows = sorted(p for p in WORKFLOWS_DIR.glob("*") if p.suffix in (".yml", ".yaml") and p.is_file())
    assert workflows, f"no workflow in {WORKFLOWS_DIR}: the nightly certification belongs in nightly.yml there"

    run = actionlint.check(*workflows, cwd=PROJECT_ROOT)

    checked = ", ".join(str(w.relative_to(PROJECT_ROOT)) for w in workflows)
    assert run.returncode == 0, (
        f"actionlint {ACTIONLINT_VERSION} exited {run.returncode} on {checked}:\n{run.stdout}{run.stderr}"
    )


# A small workflow shaped like the nightly one; each defect below replaces exactly one of its lines' text.
SEED_WORKFLOW = """\
name: seeded
on:
  schedule:
    - cron: "17 3 * * *"
  workflow_dispatch:
jobs:
  certify:
    runs-on: ubuntu-latest
    timeout-minutes: 90
    steps:
      - run: echo certified
"""
SEEDED_DEFECTS = [
    pytest.param("workflow_dispatch:", "workflow_dispach:", "events", id="misspelled-event-under-on"),
    pytest.param('"17 3 * * *"', '"17 3 * *"', "events", id="cron-with-four-fields"),
    pytest.param("runs-on: ubuntu-latest", "runs-on: ${{ matrix.os }}", "expression", id="runs-on-names-no-matrix"),
]


def test_the_seed_workflow_passes_before_a_defect_is_seeded(actionlint, tmp_path):
    workflow = tmp_path / "seed.yml"
    workflow.write_text(SEED_WORKFLOW)

    run = actionlint.check(workflow, cwd=tmp_path)

    assert run.returncode == 0, f"the unbroken seed workflow should pass:\n{run.stdout}{run.stderr}"


@pytest.mark.parametrize(("original", "defect", "kind"), SEEDED_DEFECTS)
def test_actionlint_reports_a_seeded_defect(actionlint, tmp_path, original, defect, kind):
    assert SEED_WORKFLOW.count(original) == 1, f"{original!r} must occur exactly once in the seed workflow"
    broken = SEED_WORKFLOW.replace(original, defect)
    defect_line = next(n for n, line in enumerate(broken.splitlines(), start=1) if defect in line)
    workflow = tmp_path / "broken.yml"
    workflow.write_text(broken)

    run = actionlint.check(workflow, cwd=tmp_path, extra_args=("-format", "{{json .}}"))

    assert run.returncode == ACTIONLINT_FOUND_PROBLEMS, (
        f"actionlint exited {run.returncode} on a workflow seeded with {defect!r}, "
        f"expected {ACTIONLINT_FOUND_PROBLEMS} (problems found):\n{run.stdout}{run.stderr}"
    )
    reported = json.loads(run.stdout)
    assert any(p["line"] == defect_line and p["kind"] == kind for p in reported), (
        f"actionlint did not report the seeded {defect!r} ({kind}) at line {defect_line}:\n"
        + "\n".join(f"  line {p['line']} [{p['kind']}] {p['message']}" for p in reported)
    )
