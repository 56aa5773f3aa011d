"""Find and run the fenced code blocks of the project's Markdown docs.

Convention: every fenced block whose info string is ``python``, ``bash`` or ``sh`` in
README.md and docs/*.md is executed. A block that must not run in CI is immediately
preceded (blank lines aside) by ``<!-- doc-test: skip (reason) -->``, or uses the info
string ``text``.

The blocks of one document run in order, each in a fresh process, in one temporary
working directory (so a block can use files an earlier block wrote). That directory holds
a ``.venv`` link to the virtual environment running the tests, whose ``bin`` directory
comes first on ``PATH``: ``seqrec``, ``python``, ``source .venv/bin/activate`` and
``.venv/bin/seqrec`` work as they do in a checkout after ``make install``. Blocks run with
``OMP_NUM_THREADS=1`` unless the environment sets it (the examples' models are tiny).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
RUN_LANGUAGES = ("python", "bash", "sh")
_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>[^`]*)$")
_SKIP = re.compile(r"^\s*<!--\s*doc-test:\s*skip\b(?P<rest>.*?)-->\s*$")
_REASON = re.compile(r"^\s*\((?P<reason>[^)]*\S[^)]*)\)\s*$")


class DocFormatError(ValueError):
    """A Markdown file breaks the doc-block convention (unclosed fence, skip without reason)."""


@dataclass(frozen=True)
class CodeBlock:
    """One fenced block: where it is, its language, its code and whether it is skipped."""

    path: Path
    line: int
    language: str
    code: str
    skip_reason: str | None

    @property
    def runs(self) -> bool:
        """Whether the doc test executes this block."""
        return self.language in RUN_LANGUAGES and self.skip_reason is None

    @property
    def where(self) -> str:
        return f"{self.path.name}:{self.line}"


def documents() -> list[Path]:
    """README.md and every docs/*.md, in a stable order."""
    return [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def parse_blocks(path: Path, text: str | None = None) -> list[CodeBlock]:
    """The fenced code blocks of a Markdown file, with their skip markers.

    Raises
    ------
    DocFormatError
        A fence is never closed, or a skip marker gives no reason.
    """
    lines = (path.read_text(encoding="utf-8") if text is None else text).splitlines()
    blocks: list[CodeBlock] = []
    previous = ""  # the last non-blank line outside a block
    index = 0
    while index < len(lines):
        match = _FENCE.match(lines[index])
        if match is None:
            if lines[index].strip():
                previous = lines[index]
            index += 1
            continue
        start, fence, indent = index, match["fence"], len(match["indent"])
        language = (match["info"].strip().split() or [""])[0].lower()
        body: list[str] = []
        index += 1
        while index < len(lines) and not _closes(lines[index], fence):
            body.append(_dedent(lines[index], indent))
            index += 1
        if index == len(lines):
            raise DocFormatError(f"{path.name}:{start + 1}: the code fence is never closed")
        blocks.append(CodeBlock(path, start + 1, language, "\n".join(body) + "\n",
                                _skip_reason(path, start, previous)))
        previous = ""
        index += 1
    return blocks


def _dedent(line: str, indent: int) -> str:
    """``line`` without the fence's indentation (at most ``indent`` leading blanks)."""
    blanks = len(line) - len(line.lstrip(" \t"))
    return line[min(indent, blanks):]


def _closes(line: str, fence: str) -> bool:
    stripped = line.strip()
    return stripped.startswith(fence[0] * len(fence)) and not stripped.strip(fence[0])


def _skip_reason(path: Path, fence_index: int, previous: str) -> str | None:
    marker = _SKIP.match(previous)
    if marker is None:
        return None
    reason = _REASON.match(marker["rest"])
    if reason is None:
        raise DocFormatError(
            f"{path.name}:{fence_index + 1}: the skip marker needs a reason, e.g. "
            "<!-- doc-test: skip (needs a GPU) -->"
        )
    return reason["reason"].strip()


@dataclass
class BlockFailure:
    """A block that exited non-zero or ran out of time."""

    block: CodeBlock
    returncode: int | None
    output: str

    def __str__(self) -> str:
        status = "timed out" if self.returncode is None else f"exit status {self.returncode}"
        return (f"{self.block.where} ({self.block.language}) failed: {status}\n"
                f"--- block ---\n{self.block.code}--- output (tail) ---\n{self.output[-4000:]}")


def run_blocks(blocks: list[CodeBlock], workdir: Path, timeout_s: float = 600.0
               ) -> BlockFailure | None:
    """Run the runnable ``blocks`` in order in ``workdir``; the first failure, or None.

    ``timeout_s`` bounds each block; it is generous because a shared CI machine can be
    many times slower than an idle one, and a block that times out fails the document.
    """
    bin_dir = Path(sys.executable).parent
    venv_link = workdir / ".venv"
    if not venv_link.exists():
        venv_link.symlink_to(Path(sys.prefix), target_is_directory=True)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
           "VIRTUAL_ENV": sys.prefix, "MPLBACKEND": "Agg", "PYTHONUNBUFFERED": "1"}
    env.pop("PYTHONPATH", None)
    # The examples' models are tiny: one thread each is faster than contending for cores.
    env.setdefault("OMP_NUM_THREADS", "1")
    for number, block in enumerate(blocks):
        if not block.runs:
            continue
        if block.language == "python":
            script = workdir / f"doc_block_{number}.py"
            command = [sys.executable, str(script)]
        else:
            script = workdir / f"doc_block_{number}.sh"
            command = ["bash", "-e", "-o", "pipefail", str(script)]
        script.write_text(block.code, encoding="utf-8")
        returncode, output = _run(command, workdir, env, timeout_s)
        if returncode != 0:
            return BlockFailure(block, returncode, output)
    return None


def _run(command: list[str], workdir: Path, env: dict[str, str], timeout_s: float
         ) -> tuple[int | None, str]:
    """Run ``command`` in its own process group; ``(exit status or None on timeout,
    stdout + stderr)``. On timeout the whole group is killed, so a server a block started
    in the background cannot keep the test waiting."""
    process = subprocess.Popen(command, cwd=workdir, env=env, stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               start_new_session=True)
    try:
        output, _ = process.communicate(timeout=timeout_s)
        return process.returncode, output
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        return None, output
