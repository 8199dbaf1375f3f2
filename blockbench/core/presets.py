"""Named starting points for ``compare`` (kept import-light: ``--help`` reads them).

``reference`` is the whole reference study: the 15 built-in keras.applications
backbones on Oxford Flowers 102 and Caltech 101 (through TFDS), cut by the
delimiter partition, every block, at 224 px with ImageNet weights, the
reference protocol, and the seeds the README recommends for a verdict.
``compare --preset reference --dry-run`` prices it without training.
"""

from __future__ import annotations

from typing import Any

#: Seeds the README recommends before reading a verdict (one seed cannot tell blocks apart).
RECOMMENDED_SEEDS = 5

#: The reference study's backbones: every built-in keras.applications family it covered.
REFERENCE_BACKBONES = (
    "vgg16", "resnet50-v2", "xception", "densenet121", "nasnet-mobile", "mobilenet",
    "mobilenet-v2", "mobilenet-v3-small", "mobilenet-v3-large", "efficientnet-b0",
    "efficientnet-b1", "efficientnet-v2-b0", "efficientnet-v2-b1", "regnetx-002", "regnetx-004",
)

#: Built-in presets; ``demo`` is what a bare ``blockbench compare`` runs.
PRESETS: dict[str, dict[str, Any]] = {
    "demo": {
        "backbone": ["demo-cnn"],
        "dataset": ["demo"],
        "weights": "imagenet",
        "partition": "delimiter",
        "policy": ["exhaustive"],
        "seeds": 2,
    },
    "reference": {
        "backbone": list(REFERENCE_BACKBONES),
        "dataset": ["oxford-flowers102", "caltech101"],
        "weights": "imagenet",
        "input_size": 224,
        "partition": "delimiter",
        "policy": ["exhaustive"],
        "seeds": RECOMMENDED_SEEDS,
        "out": "leaderboards/reference",
    },
}
