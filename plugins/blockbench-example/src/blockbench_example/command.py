"""``blockbench example-stripes``: write a few example-stripes images to look at."""

from __future__ import annotations

from pathlib import Path

import click
import numpy as np

from blockbench_example.stripes import Stripes


def write_ppm(path: Path, image: np.ndarray) -> None:
    """Write an RGB uint8 array as a binary PPM, which any image viewer opens (no Pillow needed)."""
    height, width, _ = image.shape
    path.write_bytes(f"P6 {width} {height} 255\n".encode() + image.tobytes())


@click.command("example-stripes")
@click.argument("out_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--per-class", default=2, show_default=True, type=click.IntRange(1, 100),
              help="Images per class.")
@click.option("--size", default=64, show_default=True, type=click.IntRange(8, 1024),
              help="Image side in pixels.")
@click.option("--seed", default=0, show_default=True, type=click.IntRange(0), help="Generator seed.")
def stripes_command(out_dir: Path, per_class: int, size: int, seed: int) -> None:
    """Write example-stripes images as PPM files into OUT_DIR (from the blockbench-example plugin)."""
    source = Stripes().load(per_class=max(per_class, 2), size=size, seed=seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    counts = dict.fromkeys(source.class_names, 0)
    for example in source.examples:
        name = source.class_names[example.label]
        if counts[name] < per_class:
            write_ppm(out_dir / f"{name}-{counts[name]}.ppm", example.image)  # type: ignore[arg-type]
            counts[name] += 1
    click.echo(f"wrote {sum(counts.values())} images of {len(counts)} classes to {out_dir}")
