#!/usr/bin/env bash
# Checks the resource monitor against a real NVIDIA GPU, in two parts:
#  1. the monitor alone with gpu = "nvml" for 2 s: every reading printed
#     (the ignored test nvml_reads_a_real_gpu in tests/monitor.rs);
#  2. end to end: `llmbench exec scripts/gpu/experiment.toml` against the mock
#     Ollama server twice, with the GPU idle and while scripts/gpu/reference.py
#     keeps it busy; that script also reads NVML itself (nvidia-ml-py) and
#     scripts/gpu/compare.py checks llmbench's samples and per-cell energy,
#     utilisation and power against those readings.
#
#   scripts/gpu_check.sh --prepare   # build the three binaries into target/gpu-check
#   scripts/gpu_check.sh             # run the check (builds first if they are missing)
#
# Prepared binaries let a machine without a Rust toolchain run the check
# (part 2 needs python3 with PyTorch and nvidia-ml-py). Results go to $OUT when
# it is set, else target/gpu-check/out.
set -euo pipefail
cd "$(dirname "$0")/.."
bins=target/gpu-check

prepare() {
    # One package at a time: `--bin llmbench` with both packages selected
    # builds no mock-ollama binary.
    cargo build --release -p llmbench --bin llmbench
    cargo build --release -p mock-ollama --bin mock-ollama
    local test_bin
    test_bin=$(cargo test --release --test monitor --no-run --message-format=json 2>/dev/null |
        python3 -c 'import json,sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "monitor" and m.get("executable"):
        print(m["executable"])')
    mkdir -p "$bins"
    cp target/release/llmbench target/release/mock-ollama "$bins/"
    cp "$test_bin" "$bins/monitor"
    strip "$bins/llmbench" "$bins/mock-ollama" "$bins/monitor"
    ls -la "$bins"
}

if [ "${1:-}" = "--prepare" ]; then
    prepare
    exit 0
fi
[ -x "$bins/llmbench" ] && [ -x "$bins/mock-ollama" ] && [ -x "$bins/monitor" ] || prepare
out="${OUT:-$bins/out}"
mkdir -p "$out"
work=$(mktemp -d)

echo "== nvidia-smi"
if command -v nvidia-smi >/dev/null; then
    nvidia-smi --query-gpu=index,name,driver_version,memory.used,memory.total,power.draw,temperature.gpu,clocks.sm,clocks.mem,utilization.gpu --format=csv || true
else
    echo "nvidia-smi not found"
fi

echo "== 1. monitor with gpu = \"nvml\""
"$bins/monitor" --ignored --nocapture --test-threads=1 nvml_reads_a_real_gpu

echo "== 2. llmbench exec with the GPU idle, then busy"
"$bins/mock-ollama" --port 18431 --ttft-ms 50 --inter-token-ms 25 >"$work/mock.log" 2>&1 &
mock=$!
trap 'kill $mock 2>/dev/null || true' EXIT
sleep 1
for phase in idle busy; do
    load=""
    [ "$phase" = busy ] && load="--load"
    python3 scripts/gpu/reference.py "$work/$phase-reference.jsonl" 12 $load &
    reference=$!
    # The reference writes its first reading once the load runs; a second of
    # readings before the run lets every sample be compared.
    for _ in $(seq 600); do
        # The file appears only once the reference starts reading.
        [ -f "$work/$phase-reference.jsonl" ] &&
            [ "$(wc -l <"$work/$phase-reference.jsonl")" -ge 20 ] && break
        sleep 0.2
    done
    "$bins/llmbench" exec scripts/gpu/experiment.toml --out "$work/$phase" --quiet
    wait $reference
done
idle_run=$(ls -d "$work"/idle/gpu-check/*/)
busy_run=$(ls -d "$work"/busy/gpu-check/*/)
sed -n '/[Rr]esource/,/^## [^R]/p' "$busy_run/report.md" | head -30
status=0
python3 scripts/gpu/compare.py "$idle_run" "$work/idle-reference.jsonl" \
    "$busy_run" "$work/busy-reference.jsonl" || status=$?
tar -czf "$out/gpu-check-runs.tar.gz" -C "$work" .
exit $status
