"""A deviated fault's verdict lists the sidekicks' quarantine changes and votes, timed from the fault."""

from types import SimpleNamespace

from wpcluster.deployment.sidekick_settings import quarantine_notes

JOURNAL = """\
1796482864.206000 core-02 docker[29266]: 2026-12-05 15:01:04,206 sidekick voting to quarantine core-01: 2 of its last 3 probes failed (budget 0.50s)
1796482864.300000 core-02 docker[29266]: 2026-12-05 15:01:04,300 sidekick registered core-02.wordpress-1 in wordpress
1796482865.221000 core-02 docker[29266]: 2026-12-05 15:01:05,221 sidekick quarantine now: core-01 (was none)
"""  # noqa: E501


class _Node:
    def __init__(self, name: str, running: bool = True) -> None:
        self.name, self.running, self.asked = name, running, []

    def is_running(self) -> bool:
        return self.running

    def exec(self, command: str, timeout: float = 60) -> SimpleNamespace:
        self.asked.append(command)
        return SimpleNamespace(stdout=JOURNAL if self.name == "core-02" else "")


def test_votes_and_quarantine_changes_are_named_with_their_node_and_time():
    nodes = [_Node("core-01", running=False), _Node("core-02"), _Node("core-03")]
    notes = quarantine_notes(nodes, since=1796482850.0, origin=1796482862.8)
    assert notes == ["core-02's sidekick at +1.4s: voting to quarantine core-01: 2 of its last 3 probes failed "
                     "(budget 0.50s)", "core-02's sidekick at +2.4s: quarantine now: core-01 (was none)"]
    assert not nodes[0].asked and "--since @1796482850" in nodes[1].asked[0]
