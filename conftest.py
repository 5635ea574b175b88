"""What the checkout's own suites (tests/) need, and nothing else.

Their shared helpers import as the package ``tests`` (``from tests.harness.nested import run_nested``):
pytest puts this file's folder, the checkout, on ``sys.path`` when it loads it, in every session and
every worker. The harness's options, fixtures and hooks are not here: they are the installed plugin
``wpcluster.fixtures``, which works from any directory.
"""
