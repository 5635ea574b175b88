"""Leftover cleanup selects every wpcluster resource but the current run's, and nothing else."""

from wpcluster.core.labels import RUN_LABEL, leftovers, new_run_id, run_labels


def test_leftovers_spare_the_current_run_and_foreign_resources():
    ours_now = run_labels("run-b", "node")
    interrupted = run_labels("run-a", "node")
    foreign = {"com.example": "x"}
    assert leftovers([ours_now, interrupted, foreign], keep_run="run-b") == [interrupted]


def test_leftovers_without_a_current_run_take_all_of_ours():
    resources = [run_labels("a", "node"), run_labels("b", "registry"), {}]
    assert leftovers(resources, keep_run=None) == resources[:2]


def test_leftovers_are_only_of_the_same_lab():
    other_lab = run_labels("run-a", "node", "wpcluster-w1")
    unnamed = {RUN_LABEL: "run-c", "wpcluster.role": "node"}  # made before labs had names: the default lab's
    assert leftovers([other_lab, unnamed], keep_run="run-b") == [unnamed]
    assert leftovers([other_lab, unnamed], keep_run="run-b", lab="wpcluster-w1") == [other_lab]


def test_run_ids_are_unique_and_labelled():
    assert new_run_id() != new_run_id()
    assert run_labels("r", "node") == {RUN_LABEL: "r", "wpcluster.role": "node", "wpcluster.lab": "wpcluster"}
