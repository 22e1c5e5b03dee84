"""Every example in examples/ checks clean and says where its pattern comes from;
every ```attn block of the docs checks clean, and every ```attn-error block
fails to check (they show errors on purpose)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from patternc.check import check_source
from patternc.diagnostics import PatterncError

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((REPO / "examples").glob("*.attn"))
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(attn|attn-error)[ \t]*\n(.*?)^```", re.DOTALL | re.MULTILINE)


def doc_blocks(kind: str):
    blocks = []
    for doc in DOCS:
        if not doc.exists():
            continue
        text = doc.read_text(encoding="utf-8")
        for m in FENCE.finditer(text):
            if m.group(1) == kind:
                line = text.count("\n", 0, m.start()) + 2
                blocks.append(pytest.param(m.group(2), f"{doc.name}:{line}", id=f"{doc.name}:{line}"))
    return blocks


def test_there_are_enough_examples():
    assert len(EXAMPLES) >= 14


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_checks_clean(path):
    source = path.read_text(encoding="utf-8")
    try:
        patterns = check_source(source, str(path.relative_to(REPO)))
    except PatterncError as e:
        pytest.fail(e.render())
    assert patterns, f"{path.name} holds no pattern"


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_cites_its_source(path):
    header = path.read_text(encoding="utf-8").split("pattern ", 1)[0]
    assert header.lstrip().startswith("#"), "an example opens with a comment"
    assert re.search(r"arXiv:\d{4}\.\d{4,5}", header), "the header cites the paper's arXiv id"


@pytest.mark.parametrize("source,where", doc_blocks("attn"))
def test_doc_block_checks_clean(source, where):
    try:
        assert check_source(source, where)
    except PatterncError as e:
        pytest.fail(e.render())


@pytest.mark.parametrize("source,where", doc_blocks("attn-error"))
def test_doc_error_block_fails(source, where):
    with pytest.raises(PatterncError):
        check_source(source, where)


def test_readme_test_command_is_what_ci_runs():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    ci_lines = (REPO / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    found = re.search(r"^pip install -e '\.\[test\]' && (.+pytest.+)$", readme, re.MULTILINE)
    assert found, "README shows the test command"
    assert found.group(1) in ci_lines, ".ci/run runs the README's test command word for word"
