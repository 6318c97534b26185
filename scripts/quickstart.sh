#!/usr/bin/env bash
# The quick start: install a real llama.cpp server with SmolLM2-135M, build
# llmbench, and run experiments/quickstart.toml, which starts the server on a
# free port, benchmarks it and stops it. Prints the summary table and the
# path of the report.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup-llama.sh
echo "building llmbench (release) ..."
cargo build --release --quiet

# experiments/quickstart.toml starts and stops the llama.cpp server itself
# ([server]); pick a free port for it so nothing else on 18080 gets in the way.
PORT="${PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')}"
./target/release/llmbench exec experiments/quickstart.toml --set "backend.url=http://127.0.0.1:$PORT" "$@"
