"""The "New callbacks" section of docs/extending.md runs as written and its tests pass."""

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "extending.md"


def section_blocks():
    section = DOC.read_text().split("## 4. New callbacks", 1)[1]
    return re.findall(r"```py\n(.*?)```", section, flags=re.DOTALL)


def test_the_callback_section_runs_and_its_tests_pass():
    blocks = section_blocks()
    assert len(blocks) == 2
    namespace = {"__name__": "extending_md_callbacks"}
    for block in blocks:
        exec(compile(block, str(DOC), "exec"), namespace)
    tests = [f for name, f in namespace.items() if name.startswith("test_") and callable(f)]
    assert len(tests) == 2
    for test in tests:
        test()
