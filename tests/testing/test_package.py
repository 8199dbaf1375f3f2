"""``blockbench.testing`` needs pytest, from the ``testing`` extra, and says so."""

from __future__ import annotations

import subprocess
import sys


def test_import_without_pytest_names_the_extra_in_one_line() -> None:
    code = "import sys; sys.modules['pytest'] = None; import blockbench.testing"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=False)
    assert proc.returncode == 1
    last = proc.stderr.strip().splitlines()[-1]
    assert last == ("ModuleNotFoundError: blockbench.testing needs pytest, which blockbench "
                    "does not install: pip install 'blockbench[testing]'")
