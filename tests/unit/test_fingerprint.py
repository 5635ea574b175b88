"""The source digest changes with any source file or the shape, and not with what a run writes."""

from __future__ import annotations

from wpcluster.jobs.fingerprint import source_digest


def _tree(tmp_path):
    (tmp_path / "wpcluster").mkdir()
    (tmp_path / "wpcluster" / "a.py").write_text("x = 1\n")
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_a.py").write_text("def test(): pass\n")
    shape = tmp_path / "cluster.toml"
    shape.write_text("[cluster]\n")
    return shape


def test_a_changed_source_file_or_shape_changes_the_digest(tmp_path):
    shape = _tree(tmp_path)
    before = source_digest(shape, tmp_path)
    (tmp_path / "wpcluster" / "a.py").write_text("x = 2\n")
    changed_source = source_digest(shape, tmp_path)
    shape.write_text("[cluster]\nnodes = []\n")
    assert len({before, changed_source, source_digest(shape, tmp_path)}) == 3


def test_results_caches_and_benchmark_figures_do_not_count(tmp_path):
    shape = _tree(tmp_path)
    before = source_digest(shape, tmp_path)
    for folder in ("results/run", "bench/results", "wpcluster/__pycache__"):
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "f.json").write_text("{}")
    assert source_digest(shape, tmp_path) == before
