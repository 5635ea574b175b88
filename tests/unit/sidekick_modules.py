"""The sidekick image's modules (images/sidekick), imported as its entrypoint imports them: side by side."""

from __future__ import annotations

import sys

from wpcluster.core.shape import PROJECT_ROOT

SIDEKICK_DIR = PROJECT_ROOT / "images" / "sidekick"
if str(SIDEKICK_DIR) not in sys.path:
    sys.path.insert(0, str(SIDEKICK_DIR))

import outliers  # noqa: E402
import sidekick  # noqa: E402

__all__ = ["outliers", "sidekick"]
