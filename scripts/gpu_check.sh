#!/usr/bin/env bash
# Checks the resource monitor against a real NVIDIA GPU: starts the monitor
# with gpu = "nvml" for 2 s and prints every GPU reading (utilisation, memory,
# power, temperature, clocks, energy counter) and the window's energy.
#
#   scripts/gpu_check.sh                # builds and runs the ignored test
#   MONITOR_TEST_BIN=path scripts/gpu_check.sh   # runs a prebuilt test binary
#
# A prebuilt binary comes from `cargo test --release --test monitor --no-run`
# (the path it prints as "Executable tests/monitor.rs (...)"); copied to
# target/gpu-check/monitor it is picked up without MONITOR_TEST_BIN, so a
# machine without a Rust toolchain can run the check.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== nvidia-smi"
if command -v nvidia-smi >/dev/null; then
    nvidia-smi --query-gpu=index,name,driver_version,memory.used,memory.total,power.draw,temperature.gpu,clocks.sm,clocks.mem,utilization.gpu --format=csv || true
else
    echo "nvidia-smi not found"
fi

bin="${MONITOR_TEST_BIN:-target/gpu-check/monitor}"
echo "== monitor with gpu = \"nvml\""
if [ -x "$bin" ]; then
    "$bin" --ignored --nocapture --test-threads=1 nvml_reads_a_real_gpu
else
    cargo test --release --test monitor -- --ignored --nocapture --test-threads=1 nvml_reads_a_real_gpu
fi
