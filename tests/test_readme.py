"""The README's example runs as written and prints what its comment says."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def test_the_readme_example_runs_through_the_services() -> None:
    text = README.read_text(encoding="utf-8")
    block = re.search(r"```python\n(.*?)```", text, re.DOTALL)
    assert block is not None
    code = block.group(1)
    assert "unit_of_work" not in code  # hosts go through the services
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(code, str(README), "exec"), {})
    promised = re.search(r"print\(.*\)\s+# (.*)", code)
    assert promised is not None
    assert printed.getvalue().strip() == promised.group(1).strip()
