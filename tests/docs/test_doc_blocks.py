"""Every python/bash/sh code block of README.md and docs/*.md runs (see doc_blocks.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from doc_blocks import REPO, DocFormatError, documents, parse_blocks, run_blocks

DOCUMENTS = documents()
RUNNABLE = [path for path in DOCUMENTS if any(b.runs for b in parse_blocks(path))]


@pytest.mark.slow
@pytest.mark.parametrize("path", RUNNABLE, ids=[str(p.relative_to(REPO)) for p in RUNNABLE])
def test_every_code_block_of_the_document_runs(path: Path, tmp_path: Path):
    failure = run_blocks(parse_blocks(path), tmp_path)
    assert failure is None, str(failure)


@pytest.mark.parametrize("path", DOCUMENTS, ids=[str(p.relative_to(REPO)) for p in DOCUMENTS])
def test_documents_follow_the_block_convention(path: Path):
    """Fences are closed and every skip marker says why (parse_blocks raises otherwise)."""
    for block in parse_blocks(path):
        if block.language in ("python", "bash", "sh") and block.skip_reason is not None:
            assert block.skip_reason.strip()


def test_readme_is_a_short_runnable_path():
    text = (REPO / "README.md").read_text(encoding="utf-8")
    assert len(text.encode("utf-8")) <= 6 * 1024
    blocks = parse_blocks(REPO / "README.md")
    assert any(b.runs and b.language == "python" for b in blocks)
    assert any(b.runs and "seqrec " in b.code for b in blocks), "no runnable CLI example"
    assert "docs/training.md" in text


# ------------------------------------------------------------------ the runner itself
def _doc(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "doc.md"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_failing_python_block_fails_the_document(tmp_path):
    path = _doc(tmp_path, "```python\nprint('ok')\n```\n\n```python\nraise SystemExit(3)\n```\n")
    failure = run_blocks(parse_blocks(path), tmp_path)
    assert failure is not None and failure.returncode == 3 and failure.block.line == 5


def test_a_failing_command_inside_a_bash_block_fails_it(tmp_path):
    path = _doc(tmp_path, "```bash\nfalse\necho never\n```\n")
    failure = run_blocks(parse_blocks(path), tmp_path)
    assert failure is not None and "never" not in failure.output


def test_blocks_share_the_working_directory_and_see_the_venv(tmp_path):
    path = _doc(tmp_path, "```python\nopen('made.txt', 'w').write('x')\n```\n"
                          "```sh\ntest -f made.txt\n```\n"
                          "```bash\nsource .venv/bin/activate\nseqrec --help > /dev/null\n```\n")
    assert run_blocks(parse_blocks(path), tmp_path) is None


def test_skip_marker_and_text_blocks_are_not_run(tmp_path):
    path = _doc(tmp_path, "<!-- doc-test: skip (needs a cluster) -->\n```bash\nexit 1\n```\n\n"
                          "```text\nexit 1\n```\n\n```json\n{}\n```\n")
    blocks = parse_blocks(path)
    assert [b.runs for b in blocks] == [False, False, False]
    assert blocks[0].skip_reason == "needs a cluster"
    assert run_blocks(blocks, tmp_path) is None


def test_skip_marker_without_a_reason_is_refused(tmp_path):
    path = _doc(tmp_path, "<!-- doc-test: skip -->\n```bash\nexit 1\n```\n")
    with pytest.raises(DocFormatError, match="needs a reason"):
        parse_blocks(path)


def test_unclosed_fence_is_refused(tmp_path):
    with pytest.raises(DocFormatError, match="never closed"):
        parse_blocks(_doc(tmp_path, "text\n```python\nprint(1)\n"))


def test_indented_blocks_in_lists_are_found(tmp_path):
    path = _doc(tmp_path, "* item\n\n  ```python\n  x = 1\n  assert x == 1\n  ```\n")
    (block,) = parse_blocks(path)
    assert block.code == "x = 1\nassert x == 1\n" and block.runs


def test_code_keeps_its_own_indentation(tmp_path):
    path = _doc(tmp_path, "```python\nfor i in range(2):\n    print(i)\n```\n")
    (block,) = parse_blocks(path)
    assert block.code == "for i in range(2):\n    print(i)\n"
    assert run_blocks([block], tmp_path) is None


def test_a_block_that_runs_too_long_fails(tmp_path):
    path = _doc(tmp_path, "```bash\nsleep 30 &\nsleep 30\necho never\n```\n")
    failure = run_blocks(parse_blocks(path), tmp_path, timeout_s=1)
    assert failure is not None and failure.returncode is None and "timed out" in str(failure)
