"""Run a contract suite on fake plugins in a nested pytest session and report each check's outcome.

The ``cases_*.py`` files here hold fake plugins (one good, many broken) and
the ``Test*`` classes that put them through a contract suite. Their names do
not match ``test_*.py``, so the outer session never collects them; the tests
here run them in an inner session and assert which checks fail.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


class Outcomes(dict[tuple[str, str], str]):
    """``(class, test) -> outcome``; ``messages`` holds each failed check's report text."""

    def __init__(self) -> None:
        super().__init__()
        self.messages: dict[tuple[str, str], str] = {}


_INI = """[pytest]
markers =
    tf: needs TensorFlow
    slow: takes more than a few seconds
"""
_RANK = {"passed": 0, "skipped": 1, "error": 2, "failed": 3}


class _Recorder:
    """Collects ``(class, test) -> outcome``; a parametrised test takes its worst outcome."""

    def __init__(self) -> None:
        self.outcomes = Outcomes()

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when != "call" and report.passed:
            return
        parts = report.nodeid.split("::")
        key = (parts[-2] if len(parts) > 2 else "", parts[-1].split("[")[0])
        if report.failed:
            outcome = "failed" if report.when == "call" else "error"
        else:
            outcome = "skipped" if report.skipped else "passed"
        if _RANK[outcome] >= _RANK.get(self.outcomes.get(key, "passed"), 0):
            self.outcomes[key] = outcome
        if report.failed:
            self.outcomes.messages[key] = report.longreprtext


@pytest.fixture(scope="session")
def run_cases(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Outcomes]:
    """``run_cases("cases_x.py", markexpr, classes=None)``: run that file's (or only those)
    classes, or ``Class::test`` nodes, in-process and return their outcomes."""

    def run(filename: str, markexpr: str, classes: Iterable[str] | None = None) -> Outcomes:
        root = tmp_path_factory.mktemp("inner")
        (root / "pytest.ini").write_text(_INI)
        recorder = _Recorder()
        path = str(HERE / filename)
        targets = [f"{path}::{name}" for name in classes] if classes is not None else [path]
        with pytest.MonkeyPatch.context() as mp:
            mp.syspath_prepend(str(HERE))  # the probe's child imports the fake plugin modules
            code = pytest.main(
                [*targets, "-c", str(root / "pytest.ini"), "--rootdir", str(root),
                 "--noconftest", "-p", "no:cacheprovider", "-q", "-m", markexpr],
                plugins=[recorder],
            )
        assert code in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED), f"inner run: {code!r}"
        return recorder.outcomes

    return run



@pytest.fixture(scope="session")
def contract_checks() -> Callable[[type], tuple[set[str], set[str]]]:
    """``contract_checks(Suite)``: the names of all its checks, and of those marked ``tf``."""

    def checks(contract: type) -> tuple[set[str], set[str]]:
        names = {n for n in dir(contract) if n.startswith("test_")}
        tf = {n for n in names
              if any(m.name == "tf" for m in getattr(getattr(contract, n), "pytestmark", []))}
        return names, tf

    return checks
