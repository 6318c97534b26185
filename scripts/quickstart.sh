#!/usr/bin/env bash
# The quick start: install a real llama.cpp server with SmolLM2-135M, build
# llmbench, start the server on a free port, run experiments/quickstart.toml
# against it, stop the server. Prints the summary table and the report path.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup-llama.sh
echo "building llmbench (release) ..."
cargo build --release --quiet

PORT="${PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')}"
LOG="$(mktemp -t llama-server.XXXXXX.log)"
echo "starting llama.cpp server on port $PORT (log: $LOG) ..."
.venv/bin/python scripts/llama_server.py --port "$PORT" >"$LOG" 2>&1 &
SERVER=$!
trap 'kill "$SERVER" 2>/dev/null; wait "$SERVER" 2>/dev/null || true' EXIT

for _ in $(seq 1 600); do
  grep -q "^ready" "$LOG" && break
  kill -0 "$SERVER" 2>/dev/null || { echo "the server exited; its log:"; cat "$LOG"; exit 1; }
  sleep 0.2
done
grep -q "^ready" "$LOG" || { echo "the server did not become ready in 120 s; its log:"; tail -20 "$LOG"; exit 1; }

./target/release/llmbench exec experiments/quickstart.toml --set "backend.url=http://127.0.0.1:$PORT" "$@"
