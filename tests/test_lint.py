"""Ruff over the code and the notebooks (configuration in pyproject.toml)."""

import subprocess
import sys

from coursebuild.catalog import REPO


def test_ruff_is_clean():
    completed = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "."],
                               cwd=REPO, capture_output=True, text=True)
    assert completed.returncode == 0, "ruff found problems (`make lint`, or ruff check --fix):\n" + completed.stdout
