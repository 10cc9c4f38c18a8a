"""The README's "From Python" example, run as written: it finishes with the result it shows."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# A real job of about 2 CPU-minutes; its subprocess may take up to 900 s.
pytestmark = [pytest.mark.slow(cpu_s=140), pytest.mark.timeout(1200)]


def readme_blocks() -> tuple[str, str]:
    """The example's code and the output the README shows for it."""
    text = (ROOT / "README.md").read_text()
    section = text.split("### From Python\n", 1)[1]
    code, shown = re.findall(r"```(?:python)?\n(.*?)```", section, flags=re.S)[:2]
    return code, shown


def test_the_python_example_runs_as_written(tmp_path):
    code, shown = readme_blocks()
    env = os.environ | {"OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=900, check=True)
    lines = done.stdout.splitlines()
    want = shown.splitlines()
    # The same phases and epochs in the same order, and a test accuracy near the one shown.
    assert [line.split()[:2] for line in lines[:-1]] == [line.split()[:2] for line in want[:-1]]
    test_acc, shown_acc = float(lines[-1].split()[-1]), float(want[-1].split()[-1])
    assert test_acc >= 0.9 and abs(test_acc - shown_acc) <= 0.05, done.stdout
    assert (tmp_path / "runs" / "nb" / "result.json").is_file()
