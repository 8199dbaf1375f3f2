"""The example-stripes preview command, run through click without a shell."""

from __future__ import annotations

from pathlib import Path

from blockbench_example.command import stripes_command
from click.testing import CliRunner


def test_writes_one_ppm_per_requested_image(tmp_path: Path) -> None:
    result = CliRunner().invoke(stripes_command, [str(tmp_path), "--per-class", "1",
                                                  "--size", "16"])
    assert result.exit_code == 0, result.output
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["anti-diagonal-0.ppm", "diagonal-0.ppm", "horizontal-0.ppm", "vertical-0.ppm"]
    data = (tmp_path / "vertical-0.ppm").read_bytes()
    assert data.startswith(b"P6 16 16 255\n") and len(data) == len(b"P6 16 16 255\n") + 16 * 16 * 3
