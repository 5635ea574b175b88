"""The README and docs/ say only what is true of this checkout.

The README is for users and stays short; everything else lives in docs/, where nothing but a link leads
a reader. So every page must be reachable from the README, every relative link must resolve, and every
file, tox env and `wpcluster` subcommand a page names must exist: a renamed module or a removed command
then fails `tox` instead of leaving a page that sends a user nowhere.
"""

from __future__ import annotations

import argparse
import configparser
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from wpcluster.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
README_MAX_LINES = 250  # readable in five minutes; the rest belongs in docs/

# A code span naming a file by one of these endings is a repository path (`cluster.toml`, `db.php`).
KNOWN_EXTENSIONS = (".py", ".toml", ".ini", ".yml", ".json", ".md", ".service", ".sh", ".php", ".go", ".cnf")
# Paths outside the checkout: a run's bundle, the user's home, the nodes' or a URL's absolute paths.
FOREIGN_PREFIXES = ("results/", "~", "/", "http:", "https:")
# Only plain path characters: anything else (`<run>`, `*.json`, a regexp, `host:port`) is not one file.
PATH_LIKE = re.compile(r"[\w.@+-]+(?:/[\w.@+-]*)*")
ADDRESS = re.compile(r"[\d.]+(?:/\d+)?")  # 172.30.8.0/24 is a subnet, not a folder
# Directories no page points into, skipped when a bare file name is looked up anywhere in the tree.
UNTRACKED_DIRS = {".git", ".tox", "results", "__pycache__", ".venv", "venv", "node_modules"}

FENCE = re.compile(r"^ *(```|~~~)")
CODE_SPAN = re.compile(r"(?<!`)(`+)(?!`)(.+?)(?<!`)\1(?!`)", re.DOTALL)
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
TOX_ENV = re.compile(r"\btox\s+-e\s+([\w-]+(?:,[\w-]+)*)")
# `wpcluster [--profile P] [--shape F] SUB ...` at the start of a code span or of a code line.
WPCLUSTER = re.compile(r"^(?:\$\s+)?wpcluster((?:\s+--(?:profile|shape)(?:=|\s+)\S+)*)\s+(\S+)(?:\s+(\S+))?")


@dataclass(frozen=True)
class Page:
    path: Path
    text: str

    @property
    def name(self) -> str:
        return str(self.path.relative_to(ROOT))

    def line_of(self, offset: int) -> int:
        """The line of ``offset`` in ``prose`` (which keeps every line, so the page's line too)."""
        return self.prose.count("\n", 0, offset) + 1

    @cached_property
    def prose(self) -> str:
        """The text with fenced code blocks blanked out (lines kept, so offsets still give line numbers)."""
        lines, fenced = [], False
        for line in self.text.split("\n"):
            fence = FENCE.match(line) is not None
            lines.append("" if fenced or fence else line)
            if fence:
                fenced = not fenced
        return "\n".join(lines)

    def code_lines(self) -> Iterator[tuple[int, str]]:
        """Each line inside a fenced code block, with its line number."""
        fenced = False
        for number, line in enumerate(self.text.split("\n"), start=1):
            if FENCE.match(line):
                fenced = not fenced
            elif fenced:
                yield number, line.strip()

    def code_spans(self) -> Iterator[tuple[int, str]]:
        """Each inline code span (its text on one line), with the line it starts on."""
        prose = self.prose
        for match in CODE_SPAN.finditer(prose):
            yield self.line_of(match.start()), " ".join(match.group(2).split())

    def commands(self) -> Iterator[tuple[int, str]]:
        """Every piece of code a reader might type: code spans and the lines of code blocks."""
        yield from self.code_spans()
        yield from self.code_lines()


def pages() -> list[Page]:
    return [Page(path, path.read_text(encoding="utf-8")) for path in [README, *sorted(DOCS.glob("*.md"))]]


def relative_links(page: Page) -> Iterator[tuple[int, str, Path]]:
    """(line, link as written, the file it points at) for every link that is not a URL or an anchor."""
    prose = page.prose
    for match in LINK.finditer(prose):
        target = match.group(1)
        if re.match(r"[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
            continue
        file = target.split("#", 1)[0]
        yield page.line_of(match.start()), target, (page.path.parent / file).resolve()


def tracked_names() -> set[str]:
    """The base name of every file in the checkout (outside caches and run results)."""
    names: set[str] = set()
    for _dirpath, dirnames, filenames in os.walk(ROOT):
        dirnames[:] = [d for d in dirnames if d not in UNTRACKED_DIRS]
        names.update(filenames)
    return names


def repository_path(word: str, alone: bool) -> str | None:
    """``word`` as a path into the checkout, or None when it does not name one.

    A span of one word is a path if it has a ``/`` or a known ending; inside a longer span (a command,
    a quoted message) only a word with a ``/`` is (`python bench/cache.py`, not `wordpress@N.service`)."""
    word = word.rstrip(".,;:")
    if word.startswith(FOREIGN_PREFIXES) or not PATH_LIKE.fullmatch(word) or ADDRESS.fullmatch(word):
        return None
    if "/" in word or (alone and word.endswith(KNOWN_EXTENSIONS) and not word.startswith(".")):
        return word
    return None


def tox_envs() -> set[str]:
    config = configparser.ConfigParser(interpolation=None)
    config.read(ROOT / "tox.ini", encoding="utf-8")
    envs = {section.removeprefix("testenv:") for section in config.sections() if section.startswith("testenv:")}
    listed = config.get("tox", "env_list", fallback="")
    return envs | {env.strip() for env in re.split(r"[,\s]+", listed) if env.strip()}


def wpcluster_commands() -> dict[str, set[str]]:
    """Each subcommand of `wpcluster`, with the sub-subcommands of those that have them (`lab up`)."""

    def choices(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                return dict(action.choices)
        return {}

    return {name: set(choices(sub)) for name, sub in choices(build_parser()).items()}


def test_the_readme_is_short() -> None:
    lines = README.read_text(encoding="utf-8").count("\n")
    assert lines < README_MAX_LINES, (
        f"README.md has {lines} lines (limit {README_MAX_LINES - 1}): move what a user does not need into a "
        f"docs/ page and link it from the README's 'Read more'")


def test_every_relative_link_resolves() -> None:
    missing = [f"{page.name}:{line}: link {target} points at nothing"
               for page in pages() for line, target, file in relative_links(page) if not file.exists()]
    assert not missing, "\n".join(missing)


def test_every_docs_page_is_reachable_from_the_readme() -> None:
    by_path = {page.path.resolve(): page for page in pages()}
    reached, todo = {README.resolve()}, [README.resolve()]
    while todo:
        page = by_path[todo.pop()]
        for _line, _target, file in relative_links(page):
            if file in by_path and file not in reached:
                reached.add(file)
                todo.append(file)
    orphans = sorted(str(path.relative_to(ROOT)) for path in set(by_path) - reached)
    assert not orphans, f"no chain of links from README.md reaches {', '.join(orphans)}: link each from 'Read more'"


def test_every_path_in_code_exists() -> None:
    names = tracked_names()
    missing = []
    for page in pages():
        for line, span in page.code_spans():
            words = span.split()
            for word in words:
                path = repository_path(word, alone=len(words) == 1)
                if path is None:
                    continue
                found = (ROOT / path).exists() if "/" in path else (ROOT / path).exists() or path in names
                if not found:
                    missing.append(f"{page.name}:{line}: `{path}` is not in the checkout")
    assert not missing, "\n".join(missing) + (
        "\n(a file of a run's bundle is written results/<run>/..., a URL path with its leading /)")


def test_every_tox_env_named_exists() -> None:
    envs = tox_envs()
    unknown = [f"{page.name}:{line}: `tox -e {env}`: tox.ini has no env {env} (it has {', '.join(sorted(envs))})"
               for page in pages() for line, code in page.commands()
               for match in TOX_ENV.finditer(code) for env in match.group(1).split(",") if env not in envs]
    assert not unknown, "\n".join(unknown)


def test_every_wpcluster_subcommand_named_exists() -> None:
    commands = wpcluster_commands()
    unknown = []
    for page in pages():
        for line, code in page.commands():
            if (match := WPCLUSTER.match(code)) is None:
                continue
            for sub in match.group(2).split("|"):
                if sub not in commands:
                    unknown.append(f"{page.name}:{line}: `wpcluster {sub}`: no such subcommand "
                                   f"(wpcluster has {', '.join(sorted(commands))})")
                    continue
                action = match.group(3) or ""  # `wpcluster lab up`; not an option, a placeholder or nothing
                named = commands[sub] and action and not action.startswith(("-", "[", "<", "."))
                for act in action.split("|") if named else []:
                    if act not in commands[sub]:
                        unknown.append(f"{page.name}:{line}: `wpcluster {sub} {act}`: no such subcommand "
                                       f"(wpcluster {sub} has {', '.join(sorted(commands[sub]))})")
    assert not unknown, "\n".join(unknown)
