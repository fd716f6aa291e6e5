"""The README never lies: its Python examples run, and print what their comments say."""
import contextlib
import io
import re
from pathlib import Path

import pytest

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()
BLOCKS = re.findall(r"```python\n(.*?)```", README, re.S)


def expected_prints(code):
    """The text after each `# prints`, up to ', ' (a remark follows), or ending in '...'
    for 'starts with'."""
    texts = [m.group(1).strip() for m in re.finditer(r"#\s*prints\s+(.*)", code)]
    return [t if t.endswith("...") else t.split(", ")[0] for t in texts]


def test_readme_has_examples():
    assert len(BLOCKS) >= 2


@pytest.mark.parametrize("code", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_readme_example_prints_what_it_says(code):
    if re.search(r"^import torch$", code, re.M):
        pytest.importorskip("torch")        # the PyTorch bridge's example
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "README.md", "exec"), {})
    printed = out.getvalue().splitlines()
    wanted = expected_prints(code)
    assert len(printed) == len(wanted)
    for line, want in zip(printed, wanted):
        if want.endswith("..."):
            assert line.startswith(want[:-3])
        else:
            assert line == want
