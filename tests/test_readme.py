"""The README's pandas snippet runs as written, on a store made by a real sweep."""

import re
import subprocess
import sys

import pytest

from tests.conftest import FAST, ROOT

pytestmark = pytest.mark.slow


def snippet() -> str:
    text = (ROOT / "README.md").read_text()
    match = re.search(r"<!-- tested by tests/test_readme.py -->\n```python\n(.*?)```", text, re.S)
    assert match, "the README lost its tested snippet"
    return match.group(1)


def test_readme_pandas_snippet(sweep, tmp_path):
    run = sweep("-m", "allocator=system,tcmalloc", "channels_last=false,true", *FAST)
    assert run.returncode == 0, run.stderr
    work = tmp_path / "work"
    (work / "outputs").mkdir(parents=True)
    (work / "outputs" / "results").symlink_to(sweep.store)
    out = subprocess.run([sys.executable, "-c", snippet()], cwd=work, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "tcmalloc" in out.stdout and "system" in out.stdout


def test_readme_opens_with_the_two_commands():
    head = (ROOT / "README.md").read_text().splitlines()[:12]
    assert any(line.startswith("make run") for line in head) and any(line.startswith("make test") for line in head)
