#!/usr/bin/env bash
# Submits a sharded llmbench launch to Slurm: an array of N shard tasks
# (shard.sbatch) and a merge job that runs once every task succeeded
# (merge.sbatch, --dependency=afterok). Prints the merged run's directory
# on the last line; with --wait, waits for the merge and exits with its
# status.
#
# usage: launch.sh [--wait] [--timeout S] N EXPERIMENT RUNS [exec args ...]
#   e.g. launch.sh --wait 3 experiments/quickstart.toml /shared/runs --set backend.url=http://gpu1:18080
#        launch.sh 4 exp.toml /shared/runs --split load --barrier /shared/runs/.barrier
# LLMBENCH (default: llmbench on PATH) is the binary every node runs; RUNS
# must be storage every node sees. split = load needs all N tasks running at
# once: the array is submitted with --oversubscribe so they share nodes.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
wait_for=""
timeout=900
while [ $# -gt 0 ]; do
  case "$1" in
    --wait) wait_for=1; shift ;;
    --timeout) timeout=$2; shift 2 ;;
    *) break ;;
  esac
done
if [ $# -lt 3 ]; then
  sed -n '2,14p' "$0" >&2
  exit 2
fi
shards=$1 experiment=$2 runs=$3
shift 3
bin=${LLMBENCH:-$(command -v llmbench || true)}
[ -x "$bin" ] || { echo "launch.sh: set LLMBENCH to the llmbench binary" >&2; exit 2; }
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
experiment=$(cd "$(dirname "$experiment")" && pwd)/$(basename "$experiment")
mkdir -p "$runs"
runs=$(cd "$runs" && pwd)
# The run directories live under RUNS/<experiment name>/.
name=$("$bin" plan "$experiment" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["experiment"])')
logs="$runs/slurm-logs"
mkdir -p "$logs"
array=$(sbatch --parsable --array="0-$((shards - 1))" --oversubscribe \
  --output="$logs/%x-%A_%a.out" "$here/shard.sbatch" "$bin" "$experiment" "$runs" "$@")
array=${array%%;*}
echo "submitted shards: job $array (array 0-$((shards - 1)))" >&2
merge_args=(--parsable --dependency="afterok:$array" --kill-on-invalid-dep=yes
  --output="$logs/%x-%j.out")
if [ -n "$wait_for" ]; then
  set +e
  timeout "$timeout" sbatch --wait "${merge_args[@]}" "$here/merge.sbatch" "$bin" "$runs/$name" "$array" >/dev/null
  status=$?
  set -e
  # A merge cancelled because a shard failed can still report success.
  if [ ! -f "$runs/$name/$array/manifest.json" ]; then
    status=${status/#0/1}
  fi
  if [ $status -ne 0 ]; then
    echo "launch.sh: the launch did not merge (status $status); logs in $logs:" >&2
    tail -n 20 "$logs"/*"$array"* >&2 || true
    scancel "$array" 2>/dev/null || true
    exit 1
  fi
else
  merge=$(sbatch "${merge_args[@]}" "$here/merge.sbatch" "$bin" "$runs/$name" "$array")
  echo "submitted merge: job ${merge%%;*} (after the shards succeed)" >&2
fi
echo "$runs/$name/$array"
