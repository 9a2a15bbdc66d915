#!/usr/bin/env bash
# Cross-check benchbox's FAD maths against frechet-audio-distance in its own venv.
# The zoo needs a different torch and numpy<2, so it never shares .venv.
# Usage: bash benchmarks/zoo_crosscheck.sh   (from the repo root; ~85 s to install)
set -euo pipefail
cd "$(dirname "$0")/.."
ZOO_VENV=".venv-zoo"
if [ ! -x "$ZOO_VENV/bin/python" ]; then
    python3.11 -m venv "$ZOO_VENV"
    "$ZOO_VENV/bin/pip" install --quiet --upgrade pip
    "$ZOO_VENV/bin/pip" install --quiet \
        "torch==2.14.1" "torchvision==0.29.1" "torchaudio==2.11.0" \
        "frechet-audio-distance==0.3.4" "numpy<2" scipy pytest
fi
export HF_HUB_OFFLINE=1
# -p no:cacheprovider: leave the main checkout's pytest cache alone.
"$ZOO_VENV/bin/python" -m pytest tests/zoo/test_zoo_crosscheck.py -q -p no:cacheprovider -o addopts="" -m zoo
