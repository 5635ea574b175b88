"""Progress on long steps (bring-up, image builds, deploys, faults) shown as it happens under pytest.

pytest captures stderr, so without this a cold first run is silent for minutes. Each line goes
through the terminal writer with capture suspended, prefixed by the time since the session
started; ``-q`` keeps them quiet.
"""

from __future__ import annotations

import time

import pytest

from wpcluster import progress


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    if config.get_verbosity() < 0 or hasattr(config, "workerinput"):
        progress.set_sink(lambda line: None)
        return
    started = time.monotonic()

    def show(line: str) -> None:
        terminal = config.pluginmanager.get_plugin("terminalreporter")
        capture = config.pluginmanager.get_plugin("capturemanager")
        if terminal is None:
            progress._to_stderr(line)
            return
        elapsed = int(time.monotonic() - started)
        text = f"[{elapsed // 60:02d}:{elapsed % 60:02d}] {line}"
        if capture is not None:
            with capture.global_and_fixture_disabled():
                terminal.write_line(text)
        else:
            terminal.write_line(text)

    progress.set_sink(show)


def pytest_unconfigure(config: pytest.Config) -> None:
    progress.set_sink(None)
