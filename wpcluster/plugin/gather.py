"""Results of workers on other hosts (pytest-xdist's ``--tx ssh=...``) come home to one bundle.

A worker writes its time ledger, failover verdicts, timelines and figures into the run's folder as
it sees it. On the controller's host (``pytest -n N``) that is the controller's own folder and
nothing needs moving. On another host it is a copy there: when that worker's session ends, it
sends every file it wrote back through xdist's ``workeroutput``, and the controller merges them
into its folder (``wpcluster.results.merge_worker_files``). So a run spread over machines is
still one run, one bundle, one report.
"""

from __future__ import annotations

import base64
import socket
import time
from pathlib import Path

import pytest

from wpcluster.plugin.options import RUN_KEY
from wpcluster.results import merge_worker_files, run_dir

HOME_KEY = "wpcluster_home"  # workerinput: where the controller keeps the run's folder
SENT_KEY = "wpcluster_results"  # workeroutput: the files a worker on another host wrote
# A worker's file bigger than this stays on its host (journals of a failing node can be large);
# the controller lists what it left there.
MAX_FILE_BYTES = 8 * 1024 * 1024
_STARTED = pytest.StashKey[float]()
_GATHERED = pytest.StashKey[list[str]]()


def home_of(config: pytest.Config) -> dict[str, str]:
    return {"host": socket.gethostname(), "folder": str(run_dir(config.stash[RUN_KEY]))}


def on_this_host(config: pytest.Config, path: str) -> str:
    """``path``, named by the controller inside its run folder, inside this worker's copy of the run
    folder instead (the same path when both share one host and folder)."""
    home = getattr(config, "workerinput", {}).get(HOME_KEY)
    if not path or not home:
        return path
    try:
        inside = Path(path).relative_to(home["folder"])
    except ValueError:
        return path
    return str(Path(home_of(config)["folder"]) / inside)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node) -> None:  # noqa: ANN001 - xdist's WorkerController
    node.workerinput[HOME_KEY] = home_of(node.config)


def pytest_sessionstart(session: pytest.Session) -> None:
    session.config.stash[_STARTED] = time.time()


@pytest.hookimpl(trylast=True)  # after the other plugins wrote their files (the ledger among them)
def pytest_sessionfinish(session: pytest.Session) -> None:
    config = session.config
    workeroutput = getattr(config, "workeroutput", None)
    home = getattr(config, "workerinput", {}).get(HOME_KEY)
    if workeroutput is None or not home or home == home_of(config):
        return
    folder, files, kept = Path(home_of(config)["folder"]), {}, []
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")):
        if path.stat().st_mtime < config.stash[_STARTED]:
            continue
        if path.stat().st_size > MAX_FILE_BYTES:
            kept.append(str(path))
            continue
        files[str(path.relative_to(folder))] = base64.b64encode(path.read_bytes()).decode()
    workeroutput[SENT_KEY] = {"host": socket.gethostname(), "folder": str(folder), "files": files, "kept": kept}


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error) -> None:  # noqa: ANN001 - xdist's WorkerController and its error
    sent = getattr(node, "workeroutput", {}).get(SENT_KEY)
    if not sent:
        return
    files = {name: base64.b64decode(data) for name, data in sent["files"].items()}
    merged = merge_worker_files(Path(home_of(node.config)["folder"]), files)
    note = f"; left on {sent['host']}: {', '.join(sent['kept'])}" if sent["kept"] else ""
    node.config.stash.setdefault(_GATHERED, []).append(
        f"wpcluster: {node.gateway.id} on {sent['host']} sent {len(merged)} result files home from "
        f"{sent['folder']}{note}")


def pytest_terminal_summary(terminalreporter, config: pytest.Config) -> None:  # noqa: ANN001
    for line in config.stash.get(_GATHERED, []):
        terminalreporter.write_line(line)
