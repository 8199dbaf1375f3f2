"""Bad component options fail in one line naming the component, before TensorFlow is imported.

Each case runs ``blockbench`` in a fresh interpreter (this test process may have
imported TensorFlow already) and reports which heavy packages the child imported.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

_CHILD = r"""
import sys
from blockbench.cli.main import cli
try:
    cli.main(sys.argv[1:], prog_name="blockbench")
    code = 0
except SystemExit as exc:
    code = exc.code or 0
heavy = [m for m in ("tensorflow", "keras", "tensorflow_datasets") if m in sys.modules]
print(f"code={code} heavy={','.join(heavy)}")
"""


@pytest.mark.parametrize(("args", "message"), [
    (["compare", "-b", "demo-cnn", "-d", "image-folder"],
     "dataset 'image-folder' needs the option path; give path=VALUE"),
    (["compare", "-b", "demo-cnn", "-d", "demo", "--policy", "random",
      "--policy-option", "random.kk=3"],
     "unknown option(s) kk for policy 'random'; valid: k. Did you mean 'k'?"),
    (["compare", "-b", "demo-cnn", "-d", "demo", "--partition-option", "k=3"],
     "unknown option(s) k for partition 'delimiter'; valid: delimiters."),
    (["compare", "-b", "demo-cnn", "-d", "demo", "--partition-param", "k=3"],  # the 0.1 spelling
     "unknown option(s) k for partition 'delimiter'; valid: delimiters."),
    (["blocks", "demo-cnn", "--backbone-option", "width=2"],
     "unknown option(s) width for backbone 'demo-cnn'; valid: none."),
])
def test_bad_options_fail_at_once_without_tensorflow(tmp_path: Path, args: list[str],
                                                     message: str) -> None:
    if args[0] == "compare":
        args = [*args, "--out", str(tmp_path / "out")]
    env = {**os.environ, "COLUMNS": "200"}
    child = subprocess.run([sys.executable, "-c", _CHILD, *args], capture_output=True, text=True,
                           timeout=120, env=env, check=False)
    assert child.stdout.strip().splitlines()[-1] == "code=2 heavy=", child.stdout + child.stderr
    lines = child.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].endswith(message), child.stderr
