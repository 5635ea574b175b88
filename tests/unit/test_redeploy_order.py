"""A test that redeploys the site runs after every other, and not at all under --site-as-is."""

from __future__ import annotations

import os

import pytest

from wpcluster.core.results import RESULTS_ENV
from wpcluster.fixtures.options import RUN_ID_ENV

pytest_plugins = ["pytester"]

SAMPLE = """
    import pytest
    @pytest.mark.redeploys
    def test_redeploy():
        pass
    def test_after_it_in_the_file():
        pass
"""


def run(pytester: pytest.Pytester, tmp_path, *args: str) -> pytest.RunResult:
    pytester.makepyfile(test_sample=SAMPLE)
    os.environ.update({RESULTS_ENV: str(tmp_path / "results"), RUN_ID_ENV: "20261205-000000-redp"})
    try:
        return pytester.runpytest_subprocess("-p", "no:cacheprovider", "-v", *args)
    finally:
        os.environ.pop(RESULTS_ENV, None)
        os.environ.pop(RUN_ID_ENV, None)


def test_a_redeploying_test_runs_last(pytester: pytest.Pytester, tmp_path):
    outcome = run(pytester, tmp_path)
    outcome.assert_outcomes(passed=2)
    outcome.stdout.fnmatch_lines(["*test_after_it_in_the_file PASSED*", "*test_redeploy PASSED*"])


def test_a_redeploying_test_is_skipped_under_site_as_is(pytester: pytest.Pytester, tmp_path):
    outcome = run(pytester, tmp_path, "--site-as-is", "-rs")
    outcome.assert_outcomes(passed=1, skipped=1)
    outcome.stdout.fnmatch_lines(["*--site-as-is certifies the site as it is: this test deploys it again*"])
