#!/usr/bin/env bash
# The whole test suite, from a bare machine: installs what the tests need (the
# real llama.cpp server and SmolLM2 for the end-to-end tests), then runs every
# test of the workspace once, in debug (benches are run by `cargo bench`).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup-llama.sh
# The HTML report is checked in a real headless Chromium (Debian's package).
if ! command -v chromium >/dev/null 2>&1 && [ -z "${LLMBENCH_CHROMIUM:-}" ]; then
  echo "installing chromium for the HTML report test ..."
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi
export LLMBENCH_PYTHON="$PWD/.venv/bin/python"
# The coding prompts' tests, proven against reference and wrong solutions.
python3 scripts/check_prompts.py
cargo test --workspace --tests
# Shards on a real (single-node) Slurm cluster: an array against llama.cpp,
# a split = load array against the mock, each merged and checked against
# its plan (docs/scale-out.md). Slurm's daemons run as root.
cargo build --quiet -p llmbench -p mock-ollama --bins
if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
timeout 900 $SUDO env LLMBENCH_SKIP_BUILD=1 PATH="$PATH" scripts/slurm/ci.sh
