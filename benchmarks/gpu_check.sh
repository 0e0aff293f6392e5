#!/bin/bash
# The checks a session runs when its task is lent a GPU machine, as one prepared script for the
# device tool (device time is short: one call, then give the machine back):
#
#     run(command="bash benchmarks/gpu_check.sh", timeout_s=540)
#
# That machine has its own python3 with torch, numpy, scikit-learn, pandas and safetensors but
# not the data root, so the figures use the datasets' published sizes and random inputs. What
# it prints (and writes under $OUT): the GPU, the CUDA tests of the SCD trainer and the votes,
# and benchmarks/paper_scale_cost.py's per-unit costs on the GPU with each paper-scale profile's
# expected time; record them in benchmarks/README.md and the README's paper-scale section.
set -o pipefail
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
OUT=${OUT:-/tmp/gpu_check}
mkdir -p "$OUT"
nvidia-smi 2>&1 | tee "$OUT/nvidia_smi.txt"
python3 -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name(0))" 2>&1 | tee "$OUT/torch.txt"
timeout 150 python3 -m pytest -q -p no:cacheprovider tests/test_scd.py tests/test_votes.py -k "cuda or device" 2>&1 \
    | tee "$OUT/cuda_tests.txt"
timeout 300 python3 benchmarks/paper_scale_cost.py --device cuda --without-data 2>&1 | tee "$OUT/paper_scale_cost.txt"
