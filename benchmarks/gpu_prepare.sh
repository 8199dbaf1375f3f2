#!/usr/bin/env bash
# Run HERE, on a machine with PyPI access, before benchmarks/gpu_check.sh runs on the GPU machine.
# Gathers into .gpu/ (git-ignored through .git/info/exclude) what that machine lacks:
#   .gpu/whl/     wheels: blockbench itself, keras and its small pure-Python needs, and
#                 blockbench's dependencies missing there (the machine has numpy, scipy, pandas,
#                 rich, click, pluggy, Pillow, h5py, ml-dtypes, absl-py and JAX with CUDA);
#   .gpu/assets/  ../shared/assets' flowers5 photos and the MobileNet a0.25 ImageNet weights.
# Then, with the device tool: run(command="bash benchmarks/gpu_check.sh", carry=[".gpu"]).
set -euo pipefail
cd "$(dirname "$0")/.."
assets="${BLOCKBENCH_ASSETS:-../shared/assets}"
grep -qx "/.gpu/" .git/info/exclude 2>/dev/null || echo "/.gpu/" >> .git/info/exclude
rm -rf .gpu && mkdir -p .gpu/whl .gpu/assets
python=${PYTHON:-.venv/bin/python}
platforms=()
for p in manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_17_x86_64 manylinux2014_x86_64 \
         manylinux1_x86_64; do platforms+=(--platform "$p"); done
"$python" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
  --implementation cp "${platforms[@]}" -d .gpu/whl \
  "keras==$("$python" -c 'import importlib.metadata as m; print(m.version("keras"))')" \
  namex optree sqlalchemy greenlet pydantic pydantic-core annotated-types typing-inspection \
  typing-extensions optuna alembic mako colorlog
"$python" -m pip wheel -q --no-deps --no-build-isolation -w .gpu/whl .
cp -r "$assets/flowers5" .gpu/assets/
cp "$assets/keras-models/mobilenet_2_5_224_tf_no_top.h5" .gpu/assets/
du -sh .gpu
