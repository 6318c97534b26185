#!/usr/bin/env bash
# The Slurm check that scripts/test.sh (and so CI) runs, for real, on this
# machine: starts a single-node cluster (cluster.sh), then
#   1. an array of 3 shards (split = cells) of scripts/slurm/cells-example.toml
#      against the real llama.cpp server (.venv, scripts/llama_server.py),
#   2. an array of 3 shards with split = load against the mock server,
#      started together at a barrier,
# each followed by a dependent merge job, and checks each merged run
# against the plan: every measured (cell, repetition) of the plan exactly
# once, complete, reports written. The servers and the Slurm daemons are
# stopped however it ends.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
export LLMBENCH=$root/target/debug/llmbench
mock=$root/target/debug/mock-ollama
work=$(mktemp -d /tmp/llmbench-slurm.XXXXXX)
pids=()

cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  scripts/slurm/cluster.sh stop || true
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# scripts/test.sh builds them as its own user before running this as root.
if [ -z "${LLMBENCH_SKIP_BUILD:-}" ]; then
  cargo build --quiet -p llmbench -p mock-ollama --bins
fi
scripts/setup-llama.sh >/dev/null
scripts/slurm/cluster.sh start

# The real llama.cpp server, for the cells launch.
llama_port=$(free_port)
.venv/bin/python scripts/llama_server.py --port "$llama_port" --parallel 2 >"$work/llama.out" 2>"$work/llama.log" &
pids+=($!)
for _ in $(seq 240); do grep -q '^ready' "$work/llama.out" && break; sleep 0.5; done
grep -q '^ready' "$work/llama.out" || { echo "ci.sh: llama.cpp server did not start" >&2; tail "$work/llama.log" >&2; exit 1; }

# The mock, for the load launch.
mock_port=$(free_port)
"$mock" --port "$mock_port" --ttft-ms 20 --inter-token-ms 4 --tokens 32 >"$work/mock.log" 2>&1 &
pids+=($!)

check() { # check MERGED_RUN EXPERIMENT [--set ...]: the merged run against the plan
  local merged=$1 experiment=$2
  shift 2
  "$LLMBENCH" plan "$experiment" --json "$@" >"$work/plan.json"
  python3 - "$merged" "$work/plan.json" <<'PY'
import collections, json, pathlib, sys
run, plan = pathlib.Path(sys.argv[1]), json.load(open(sys.argv[2]))
records = [json.loads(l) for l in (run / "requests.jsonl").read_text().splitlines()]
measured = collections.Counter((r["cell"], r["repetition"]) for r in records if not r["warmup"] and not r.get("cold"))
want = {(c["id"], r) for c in plan["cells"] for r in range(c["repetitions"])}
assert set(measured) == want, f"measured {sorted(set(measured) ^ want)[:5]} differ from the plan"
assert max(measured.values()) == 1, "a (cell, repetition) twice"
manifest = json.loads((run / "manifest.json").read_text())
assert manifest["status"] == "complete", manifest["status"]
summary = json.loads((run / "summary.json").read_text())
assert len(summary["cells"]) == len(plan["cells"])
for report in ("report.md", "report.html", "report.json"):
    assert (run / report).is_file(), report
merge = manifest["merge"]
print(f"{run}: {len(measured)} measured requests of {len(plan['cells'])} cells from shards {merge['shards']} (split = {merge['split']})")
for cell in merge.get("overlap", []):
    print(f"  {cell['cell']}: shards overlapped {cell['fraction']:.1%} of {cell['union_s']:.2f} s, starts {cell['start_spread_ms']:.0f} ms apart")
PY
}

cells_args=(--set "backend.url=http://127.0.0.1:$llama_port")
merged=$(scripts/slurm/launch.sh --wait --timeout 600 3 scripts/slurm/cells-example.toml "$work/runs" "${cells_args[@]}" | tail -n 1)
check "$merged" scripts/slurm/cells-example.toml "${cells_args[@]}"

load_args=(--set "backend.url=http://127.0.0.1:$mock_port" --set 'run.concurrency=[3, 6]' --set run.repetitions=12
  --split load --barrier "$work/barrier")
merged=$(scripts/slurm/launch.sh --wait --timeout 300 3 scripts/slurm/load-example.toml "$work/runs" "${load_args[@]}" | tail -n 1)
check "$merged" scripts/slurm/load-example.toml "${load_args[@]:0:6}"
rm -rf "$work"
echo "slurm: both launches merged and match their plans"
