#!/usr/bin/env bash
# Run ON the GPU machine (one NVIDIA H200, JAX with CUDA, no TensorFlow), after
# benchmarks/gpu_prepare.sh has gathered .gpu/ here; with the device tool:
#   run(command="bash benchmarks/gpu_check.sh", carry=[".gpu"], timeout_s=600)
# It installs the carried wheels, then runs benchmarks/gpu_bench.py under KERAS_BACKEND=jax
# (the demo, MobileNet a0.25 on flowers5 at 128 px: 27 blocks in float32 and mixed_float16,
# and naive Keras fit side by side). gpu.md and gpu.json land in $OUT after every phase, so a
# run stopped at its limit still returns what it measured. Extra arguments go to gpu_bench.py.
set -uo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-/tmp/gpu-out}"
mkdir -p "$out"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
  --target /tmp/site .gpu/whl/*.whl || exit 1
# The checkout's code first; the blockbench wheel in /tmp/site supplies its entry points.
export PYTHONPATH="$PWD:$PWD/plugins:/tmp/site" PYTHONUNBUFFERED=1 KERAS_BACKEND=jax
mkdir -p /tmp/kh/models && cp .gpu/assets/mobilenet_2_5_224_tf_no_top.h5 /tmp/kh/models/
export KERAS_HOME=/tmp/kh
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > "$out/nvidia-smi.txt" 2>&1
python3 -c "import jax, keras; print(jax.__version__, keras.__version__, jax.devices())" || exit 1
timeout "${GPU_BENCH_SECONDS:-500}" python3 benchmarks/gpu_bench.py --flowers .gpu/assets/flowers5 \
  --data-cache /tmp/bb-data --out "$out" "$@" 2>&1 | tee "$out/log.txt"
