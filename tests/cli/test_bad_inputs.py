"""Bad input, as a new user types it: one line naming the bad value, exit 2, nothing left behind.

Each case is a real command line (flags or a TOML file) that must be refused
before any training starts. A case that a command wrongly accepts would train
the tiny demo for a few seconds and then fail here on its exit code.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from blockbench.cli.main import cli

#: A compare that trains little if a bad value slips through.
FAST = ["-b", "demo-cnn", "-d", "demo", "--epochs", "1", "--seeds", "1", "--policy", "last-block"]
TOML_BASE = ('backbone = "demo-cnn"\ndataset = "demo"\npolicy = "last-block"\nseeds = 1\n'
             "[hparams]\nepochs = 1\n")


def _compare(*flags: str) -> Callable[[Path], list[str]]:
    return lambda tmp: ["compare", *FAST, *flags, "--quiet", "--out", str(tmp / "out")]


def _toml(text: str, base: str = TOML_BASE) -> Callable[[Path], list[str]]:
    def args(tmp: Path) -> list[str]:
        # A later table of the same name would be a TOML error: merge [hparams] by hand.
        body = base
        if "[hparams]" in text and "[hparams]" in base:
            body = base.replace("[hparams]\nepochs = 1\n", "")
        (tmp / "bench.toml").write_text(body + text)
        return ["compare", "--config", str(tmp / "bench.toml"), "--quiet", "--out", str(tmp / "out")]
    return args


def _file(tmp: Path, name: str, text: str) -> str:
    path = tmp / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return str(path)


def _images(tmp: Path, classes: dict[str, int], bad: dict[str, int] | None = None) -> str:
    from PIL import Image

    root = tmp / "images"
    for c, (name, count) in enumerate(classes.items()):
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(count):  # distinct images: identical ones are deduplicated
            Image.new("RGB", (8, 8), (i * 7 % 256, 40 * c % 256, 90)).save(root / name / f"{i}.png")
    for name, count in (bad or {}).items():
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(count):
            (root / name / f"bad{i}.jpg").write_bytes(f"not an image {i}".encode())
    return str(root)


def _runs_dir(tmp: Path, line: dict | str, *, valid_before: bool = True) -> str:
    folder = tmp / "results"
    folder.mkdir(exist_ok=True)
    good = Path(__file__).resolve().parents[2] / "leaderboards" / "tables" / "demo" / "runs.jsonl"
    lines = good.read_text().splitlines()[:3] if valid_before else []
    lines.append(line if isinstance(line, str) else json.dumps(line))
    (folder / "runs.jsonl").write_text("\n".join(lines) + "\n")
    return str(folder)


def _record(**changes: object) -> dict:
    good = Path(__file__).resolve().parents[2] / "leaderboards" / "tables" / "demo" / "runs.jsonl"
    record = json.loads(good.read_text().splitlines()[0])
    for key, value in changes.items():
        if value is None:
            record.pop(key, None)
        else:
            record[key] = value
    return record


CASES: dict[str, Callable[[Path], list[str]]] = {
    # names
    "unknown backbone": lambda t: ["compare", "-b", "nosuchnet", "-d", "demo", "--out", str(t / "out")],
    "unknown dataset name": lambda t: ["compare", "-b", "demo-cnn", "-d", "nosuchdata", "--out",
                                       str(t / "out")],
    "dataset folder missing": _compare("-d", "./no/such/folder"),
    "unknown partition": _compare("-p", "nosuch"),
    "unknown policy": _compare("--policy", "nosuch"),
    "unknown preset": lambda t: ["compare", "--preset", "nosuch", "--out", str(t / "out")],
    "unknown format": _compare("--format", "nosuch"),
    "unknown flag": _compare("--nosuch-flag"),
    "unknown command": lambda t: ["nosuchcommand"],
    # numbers on the command line
    "seeds 0": _compare("--seeds", "0"),
    "seeds negative": _compare("--seeds", "-1"),
    "seeds not a number": _compare("--seeds", "abc"),
    "seed start negative": _compare("--seed-start", "-1"),
    "seeds beyond any integer type": _compare("--seeds", "99999999999999999999"),
    "seed start beyond 32 bits": _compare("--seed-start", "99999999999"),
    "hparam learning rate not finite": _compare("--hparam", "learning_rate=inf"),
    "hparam dropout not a number": _compare("--hparam", "dropout=nan"),
    "dataset folder is a file": _compare("-d", "README.md"),
    "empty backbone name": _compare("-b", ""),
    "config is not TOML": _compare("--config", "README.md"),
    "replay table is a leaderboard": lambda t: ["replay", "--table", "leaderboards/demo/leaderboard.json"],
    "replay budget unknown word": lambda t: ["replay", "--results", "leaderboards/tables/demo",
                                             "--budget", "q5"],
    "budget 0": _compare("--budget", "0"),
    "budget negative": _compare("--budget", "-3"),
    "budget not a number": _compare("--budget", "abc"),
    "input size 0": _compare("--input-size", "0"),
    "input size negative": _compare("--input-size", "-5"),
    "input size below the backbone's minimum": _compare("--input-size", "8"),
    "input size too large for memory": _compare("--input-size", "200000"),
    "epochs 0": _compare("--epochs", "0"),
    "epochs fractional": _compare("--epochs", "2.5"),
    "epochs not a number": _compare("--epochs", "abc"),
    "retries negative": _compare("--retries", "-1"),
    "dry-run throughput 0": _compare("--dry-run", "--assume-tflops", "0"),
    "dry-run throughput not a number": _compare("--dry-run", "--assume-tflops", "fast"),
    "preset unknown": _compare("--preset", "everything"),
    "split seed not a number": _compare("--split-seed", "abc"),
    # hyper-parameters
    "hparam batch_size abc": _compare("--hparam", "batch_size=abc"),
    "hparam batch_size 0": _compare("--hparam", "batch_size=0"),
    "hparam batch_size fractional": _compare("--hparam", "batch_size=2.5"),
    "hparam dropout abc": _compare("--hparam", "dropout=abc"),
    "hparam dropout 1.5": _compare("--hparam", "dropout=1.5"),
    "hparam dropout negative": _compare("--hparam", "dropout=-0.1"),
    "hparam learning rate 0": _compare("--hparam", "learning_rate=0"),
    "hparam learning rate negative": _compare("--hparam", "learning_rate=-1e-3"),
    "hparam learning rate abc": _compare("--hparam", "learning_rate=abc"),
    "hparam epochs fractional": _compare("--hparam", "epochs=2.5"),
    "hparam epochs boolean": _compare("--hparam", "epochs=true"),
    "hparam unknown": _compare("--hparam", "epochz=3"),
    "hparam head unknown": _compare("--hparam", "head=nosuch"),
    "hparam eval_epoch unknown": _compare("--hparam", "eval_epoch=nosuch"),
    "hparam precision unknown": _compare("--hparam", "precision=float64"),
    "hparam optimizer unknown": _compare("--hparam", "optimizer=nosuch"),
    "hparam dense_units 0": _compare("--hparam", "dense_units=0"),
    "hparam xla not a boolean": _compare("--hparam", "xla=maybe"),
    "hparam without =": _compare("--hparam", "batch_size"),
    "hparam without key": _compare("--hparam", "=5"),
    # component options
    "backbone option unknown": _compare("--backbone-option", "nosuch=1"),
    "dataset option unknown": _compare("--dataset-option", "nosuch=1"),
    "partition option unknown": _compare("--partition-option", "nosuch=1"),
    "uniform k 0": _compare("-p", "uniform", "--partition-option", "k=0"),
    "uniform k abc": _compare("-p", "uniform", "--partition-option", "k=abc"),
    "policy option unknown": _compare("--policy", "random", "--policy-option", "random.kk=3"),
    "policy option k 0": _compare("--policy", "random", "--policy-option", "random.k=0"),
    "policy option without policy": _compare("--policy-option", "k=3"),
    "policy option of an unused policy": _compare("--policy-option", "nosuch.k=3"),
    "weights file missing": _compare("--weights", "no-such-weights.h5"),
    "weights empty": _compare("--weights", ""),
    "preprocessing unknown": _compare("--preprocessing", "nosuch"),
    # TOML
    "config missing": lambda t: ["compare", "--config", str(t / "missing.toml"), "--out", str(t / "o")],
    "config not TOML": _toml("this is = not = toml\n"),
    "toml seeds string": _toml('seeds = "three"\n', base=TOML_BASE.replace("seeds = 1\n", "")),
    "toml seeds fractional": _toml("seeds = 1.5\n", base=TOML_BASE.replace("seeds = 1\n", "")),
    "toml backbone number": _toml("backbone = 5\n", base=TOML_BASE.replace('backbone = "demo-cnn"\n', "")),
    "toml split number": _toml("split = 3\n"),
    "toml hparams epochs string": _toml('[hparams]\nepochs = "two"\n'),
    "toml hparams epochs boolean": _toml("[hparams]\nepochs = true\n"),
    "toml hparams unknown key": _toml("[hparams]\nepochz = 3\n"),
    "toml unknown top key": _toml("seedz = 3\n", base=TOML_BASE.replace("[hparams]\nepochs = 1\n", "")
                                  + ""),
    "toml split unknown key": _toml("[split]\nfractionz = [0.7, 0.2, 0.1]\n"),
    "toml split two fractions": _toml("[split]\nfractions = [0.7, 0.3]\n"),
    "toml split fractions sum": _toml("[split]\nfractions = [0.7, 0.2, 0.2]\n"),
    "toml split kind unknown": _toml('[split]\nkind = "nosuch"\n'),
    "toml backbone option unknown": _toml("[backbone_options]\nnosuch = 1\n"),
    "toml policy unknown": _toml('policy = ["nosuch"]\n', base=TOML_BASE.replace('policy = "last-block"\n', "")),
    "toml input size negative": _toml("input_size = -1\n"),
    "toml budget 0": _toml("budget = 0\n"),
    "toml weights number": _toml("weights = 5\n"),
    "toml policy options wrong type": _toml("policy_options = 3\n"),
    "toml hparams not a table": _toml("hparams = 3\n", base=TOML_BASE.replace("[hparams]\nepochs = 1\n", "")),
    # filesystem
    "out parent is a file": lambda t: ["compare", *FAST, "--out",
                                       _file(t, "afile", "x") + "/out"],
    "out is a file": lambda t: ["compare", *FAST, "--out", _file(t, "afile2", "x")],
    "storage scheme unknown": _compare("--storage", "nosuch://x"),
    "storage sqlite parent is a file": lambda t: ["compare", *FAST, "--out", str(t / "out"),
                                                  "--storage", f"sqlite:///{_file(t, 'f', 'x')}/x.db"],
    # image folders
    "folder with one class": lambda t: ["compare", "-b", "demo-cnn", "-d", _images(t, {"a": 12}),
                                        "--out", str(t / "out")],
    "folder with no images": lambda t: ["compare", "-b", "demo-cnn", "-d", _images(t, {}, {"a": 3, "b": 3}),
                                        "--out", str(t / "out")],
    "folder class all undecodable": lambda t: ["compare", "-b", "demo-cnn", "-d",
                                               _images(t, {"a": 12, "b": 12}, {"c": 4}),
                                               "--epochs", "1", "--seeds", "1", "--out", str(t / "out")],
    "folder class too small to split": lambda t: ["compare", "-b", "demo-cnn", "-d",
                                                  _images(t, {"a": 12, "b": 2}), "--out", str(t / "out")],
    # blocks
    "blocks unknown backbone": lambda t: ["blocks", "nosuchnet"],
    "blocks unknown partition": lambda t: ["blocks", "demo-cnn", "-p", "nosuch"],
    "blocks input size 0": lambda t: ["blocks", "demo-cnn", "--input-size", "0"],
    "blocks partition option unknown": lambda t: ["blocks", "demo-cnn", "--partition-option", "x=1"],
    "blocks backbone option unknown": lambda t: ["blocks", "demo-cnn", "--backbone-option", "x=1"],
    "blocks weights missing": lambda t: ["blocks", "demo-cnn", "--weights", "missing.h5"],
    "blocks format unknown": lambda t: ["blocks", "demo-cnn", "--format", "nosuch"],
    "blocks uniform k 0": lambda t: ["blocks", "demo-cnn", "-p", "uniform", "--partition-option", "k=0"],
    # compare's executor: Ray options need --executor ray; an address must be reachable
    "compare executor unknown": _compare("--executor", "dask"),
    "compare ray address without ray": _compare("--ray-address", "auto"),
    "compare ray workers without ray": _compare("--ray-workers", "2"),
    "compare ray workers 0": _compare("--executor", "ray", "--ray-workers", "0"),
    "compare ray cpus per run 0": _compare("--executor", "ray", "--ray-cpus-per-run", "0"),
    "compare ray address not an address": _compare("--executor", "ray", "--ray-address", "head"),
    "compare ray address nothing listens": _compare("--executor", "ray", "--ray-address",
                                                    "127.0.0.1:9"),
    # leaderboard, check, runs
    "leaderboard results missing": lambda t: ["leaderboard", "--results", str(t / "nope")],
    "leaderboard results is a file": lambda t: ["leaderboard", "--results", _file(t, "r.txt", "x")],
    "leaderboard format unknown": lambda t: ["leaderboard", "--results", "leaderboards/tables/demo",
                                             "--format", "nosuch"],
    "leaderboard out suffix unknown": lambda t: ["leaderboard", "--results", "leaderboards/tables/demo",
                                                 "--out", str(t / "lb.xyz")],
    "leaderboard out parent is a file": lambda t: ["leaderboard", "--results", "leaderboards/tables/demo",
                                                   "--out", _file(t, "f2", "x") + "/lb.md"],
    "leaderboard storage scheme unknown": lambda t: ["leaderboard", "--storage", "nosuch://x"],
    "runs.jsonl garbled middle line": lambda t: ["leaderboard", "--results", _garbled_middle(t)],
    "runs.jsonl field of wrong type": lambda t: ["leaderboard", "--results",
                                                 _runs_dir(t, _record(test_acc="abc"))],
    "runs.jsonl field missing": lambda t: ["leaderboard", "--results", _runs_dir(t, _record(status=None))],
    "runs.jsonl not a record": lambda t: ["leaderboard", "--results", _runs_dir(t, [1, 2, 3])],
    "runs.jsonl future version": lambda t: ["leaderboard", "--results",
                                            _runs_dir(t, _record(schema_version=99))],
    "check baseline missing": lambda t: ["check", "--baseline", str(t / "nope.json"), "--results",
                                         "leaderboards/tables/demo"],
    "check baseline not JSON": lambda t: ["check", "--baseline", _file(t, "b.json", "nope"), "--results",
                                          "leaderboards/tables/demo"],
    "check baseline wrong kind": lambda t: ["check", "--baseline", _file(t, "b.json", '{"format": "x"}'),
                                            "--results", "leaderboards/tables/demo"],
    "check baseline future version": lambda t: [
        "check", "--baseline", _file(t, "b.json", json.dumps(
            {"format": "blockbench-leaderboard", "format_version": 99})),
        "--results", "leaderboards/tables/demo"],
    "check tolerance negative": lambda t: ["check", "--baseline", "leaderboards/demo/leaderboard.json",
                                           "--results", "leaderboards/tables/demo", "--tolerance", "-1"],
    "check sigmas 0": lambda t: ["check", "--baseline", "leaderboards/demo/leaderboard.json",
                                 "--results", "leaderboards/tables/demo", "--sigmas", "0"],
    "check results missing": lambda t: ["check", "--baseline", "leaderboards/demo/leaderboard.json",
                                        "--results", str(t / "nope")],
    "runs results missing": lambda t: ["runs", "--results", str(t / "nope")],
    "runs status unknown": lambda t: ["runs", "--results", "leaderboards/tables/demo", "--status", "x"],
    "runs format unknown": lambda t: ["runs", "--results", "leaderboards/tables/demo", "--format", "x"],
    "runs storage scheme unknown": lambda t: ["runs", "--storage", "nosuch://x"],
    # replay and plot
    "replay results missing": lambda t: ["replay", "--results", str(t / "nope")],
    "replay policy unknown": lambda t: ["replay", "--results", "leaderboards/tables/demo", "--policy",
                                        "nosuch"],
    "replay budget 0": lambda t: ["replay", "--results", "leaderboards/tables/demo", "--budget", "0"],
    "replay budget abc": lambda t: ["replay", "--results", "leaderboards/tables/demo", "--budget", "abc"],
    "replay repeats 0": lambda t: ["replay", "--results", "leaderboards/tables/demo", "--repeats", "0"],
    "replay table missing": lambda t: ["replay", "--table", str(t / "nope.jsonl")],
    "replay format unknown": lambda t: ["replay", "--results", "leaderboards/tables/demo", "--format", "x"],
    "replay policy option unknown": lambda t: ["replay", "--results", "leaderboards/tables/demo",
                                               "--policy", "random", "--policy-option", "random.kk=1"],
    "replay out suffix unknown": lambda t: ["replay", "--results", "leaderboards/tables/demo",
                                            "--out", str(t / "r.xyz")],
    "plot kind unknown": lambda t: ["plot", "nosuch"],
    "plot results missing": lambda t: ["plot", "blocks", "--results", str(t / "nope"), "--out",
                                       str(t / "p.png")],
    "plot replay missing": lambda t: ["plot", "regret", "--replay", str(t / "nope.json"), "--out",
                                      str(t / "p.png")],
    "plot out suffix unknown": lambda t: ["plot", "blocks", "--results", "leaderboards/tables/demo",
                                          "--out", str(t / "p.xyz")],
    "plot replay is a leaderboard": lambda t: ["plot", "regret", "--replay",
                                               "leaderboards/demo/leaderboard.json", "--out",
                                               str(t / "p.png")],
    # list
    "list kind unknown": lambda t: ["list", "nosuch"],
    "list format unknown": lambda t: ["list", "--format", "nosuch"],
}


def _garbled_middle(tmp: Path) -> str:
    folder = tmp / "results"
    folder.mkdir(exist_ok=True)
    good = Path(__file__).resolve().parents[2] / "leaderboards" / "tables" / "demo" / "runs.jsonl"
    lines = good.read_text().splitlines()[:4]
    lines[1] = lines[1][: len(lines[1]) // 2]
    (folder / "runs.jsonl").write_text("\n".join(lines) + "\n")
    return str(folder)


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_is_one_line(case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(Path(__file__).resolve().parents[2])
    args = CASES[case](tmp_path)
    result = CliRunner().invoke(cli, args)
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert "Traceback" not in result.output, result.output
    assert result.exit_code == 2, f"exit {result.exit_code}: {result.output[-2000:]}"
    assert len(lines) == 1, "\n".join(lines)
    if args[0] == "compare":
        out = Path(args[args.index("--out") + 1]) if "--out" in args else None
        assert out is None or not out.exists() or out.is_file(), "a refused compare left files behind"
