"""The quiet TensorFlow start-up, on a stand-in ``tensorflow`` package that writes to fd 2 from
its import and its device listing, as the real one does from C++ (no TensorFlow needed)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

FAKE_TF = '''
import os
os.write(2, b"I0000 port.cc:153] oneDNN custom operations are on\\n")
if os.environ.get("FAKE_TF_BROKEN"):
    raise ImportError("this TensorFlow build is broken")


class config:
    @staticmethod
    def list_physical_devices():
        os.write(2, b"E0000 cuda_platform.cc:52] failed call to cuInit\\n")
        return []
'''

CHILD = '''
import os, sys
from blockbench.train import backend
backend.quiet_startup()
if "verbose" in sys.argv:
    backend.verbose_startup()
import tensorflow
import tensorflow  # a second import is plain
print(type(tensorflow.__loader__).__name__, os.environ.get("TF_CPP_MIN_LOG_LEVEL"))
print("after the import", file=sys.stderr)
'''


def start(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "tensorflow").mkdir(exist_ok=True)
    (tmp_path / "tensorflow" / "__init__.py").write_text(FAKE_TF)
    environ = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    environ["PYTHONPATH"] = os.pathsep.join([str(tmp_path), *sys.path])
    return subprocess.run([sys.executable, "-c", CHILD, *args], capture_output=True, text=True,
                          env={**environ, **env}, timeout=60, check=False)


def test_start_up_lines_of_the_import_and_the_device_listing_are_hidden(tmp_path):
    child = start(tmp_path)
    assert child.returncode == 0, child.stderr
    assert child.stderr == "after the import\n"  # stderr works again afterwards
    assert child.stdout.split() == ["SourceFileLoader", "2"]  # the real loader, handed back


def test_a_failing_import_shows_what_it_wrote(tmp_path):
    child = start(tmp_path, FAKE_TF_BROKEN="1")
    assert child.returncode == 1
    assert "oneDNN custom operations" in child.stderr
    assert "ImportError: this TensorFlow build is broken" in child.stderr


def test_verbose_shows_them_and_leaves_the_environment_alone(tmp_path):
    child = start(tmp_path, "verbose")
    assert child.returncode == 0, child.stderr
    assert "oneDNN custom operations" in child.stderr
    assert child.stdout.split() == ["SourceFileLoader", "None"]


@pytest.mark.parametrize("level", ["0", "3"])
def test_the_users_log_level_is_kept(tmp_path, level):
    child = start(tmp_path, TF_CPP_MIN_LOG_LEVEL=level)
    assert child.stdout.split() == ["SourceFileLoader", level]
