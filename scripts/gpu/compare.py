"""Compares llmbench's GPU readings with independent NVML readings.

usage: compare.py IDLE_RUN IDLE_REFERENCE BUSY_RUN BUSY_REFERENCE

Each RUN is a run directory of scripts/gpu/experiment.toml, each REFERENCE
the reference.py readings taken during it (the busy one under load). For
every llmbench sample, the reference's energy counter is interpolated at the
sample's wall-clock time: the two read the same driver counter, so they
must agree to within a few tens of milliseconds of power. For every cell,
the energy, utilisation and power llmbench reports are compared with the
reference over the cell's window. Finally the busy run must show the load:
utilisation and power well above the idle run's. Prints every figure and
exits 1 if a check fails.
"""

import bisect
import json
import statistics
import sys
from datetime import datetime, timezone
from pathlib import Path

failures = []


def check(ok, what):
    print(("ok    " if ok else "FAIL  ") + what)
    if not ok:
        failures.append(what)


def unix_time(rfc3339):
    """RFC 3339 UTC with up to nanoseconds, as Python's datetime takes 6 digits."""
    text = rfc3339.rstrip("Z")
    whole, _, fraction = text.partition(".")
    seconds = datetime.strptime(whole, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc)
    return seconds.timestamp() + (float("0." + fraction) if fraction else 0.0)


def read_jsonl(path):
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def interpolate(reference, t, key):
    times = [r["t"] for r in reference]
    i = bisect.bisect_left(times, t)
    if i == 0 or i == len(times):
        return None
    a, b = reference[i - 1], reference[i]
    if a[key] is None or b[key] is None:
        return None
    share = (t - a["t"]) / (b["t"] - a["t"])
    return a[key] + share * (b[key] - a[key])


def within(reference, start, end, key):
    return [r[key] for r in reference if start <= r["t"] <= end and r[key] is not None]


def mean(values):
    return statistics.mean(values) if values else float("nan")


def cell_windows(run):
    """Cell id -> (first send, last completion) in ms of the run clock."""
    windows = {}
    for r in read_jsonl(run / "requests.jsonl"):
        if r["warmup"]:
            continue
        end = r["run_offset_ms"] + (r["timing"].get("e2e_ms") or 0.0)
        start0, end0 = windows.get(r["cell"], (r["run_offset_ms"], end))
        windows[r["cell"]] = (min(start0, r["run_offset_ms"]), max(end0, end))
    return windows


def compare_run(label, run, reference_path):
    run = Path(run)
    reference = read_jsonl(reference_path)
    samples = read_jsonl(run / "samples.jsonl")
    print(f"\n== {label}: {run.name}: {len(samples)} llmbench samples, {len(reference)} reference")
    with_gpu = [s for s in samples if s.get("gpus")]
    check(len(with_gpu) == len(samples) and samples, f"{label}: every sample has GPU readings")
    if not with_gpu:
        return None
    first = with_gpu[0]["gpus"][0]
    print(f"      gpu0: {first['name']}, {first['mem_total_bytes']} B")
    check(first["mem_total_bytes"] == reference[0]["mem_total_bytes"],
          f"{label}: total memory {first['mem_total_bytes']} = reference {reference[0]['mem_total_bytes']}")
    origin = statistics.median(unix_time(s["at"]) - s["t_ms"] / 1000.0 for s in with_gpu)
    power = mean([r["power_w"] for r in reference if r["power_w"] is not None])
    gaps = []
    for s in with_gpu:
        ours = s["gpus"][0].get("energy_mj")
        theirs = interpolate(reference, origin + s["t_ms"] / 1000.0, "energy_mj")
        if ours is not None and theirs is not None:
            gaps.append(abs(ours - theirs) / 1000.0)
    if gaps:
        worst_ms = max(gaps) / power * 1000.0
        print(f"      energy counter vs reference: {len(gaps)} compared, median |diff| "
              f"{statistics.median(gaps):.2f} J, max {max(gaps):.2f} J (= {worst_ms:.0f} ms at {power:.0f} W)")
        check(worst_ms <= 150.0, f"{label}: energy counter within 150 ms of power of the reference")
    else:
        check(False, f"{label}: energy counter readings to compare")
    summary = json.loads((run / "summary.json").read_text())
    result = None
    for cell_id, (start_ms, end_ms) in cell_windows(run).items():
        cell = next(c for c in summary["cells"] if c["id"] == cell_id)
        m = cell.get("monitor") or {}
        start, end = origin + start_ms / 1000.0, origin + end_ms / 1000.0
        e0, e1 = interpolate(reference, start, "energy_mj"), interpolate(reference, end, "energy_mj")
        ref_energy = (e1 - e0) / 1000.0 if e0 is not None and e1 is not None else None
        ref_util = mean(within(reference, start, end, "util_pct"))
        ref_power = mean(within(reference, start, end, "power_w"))
        print(f"      cell {cell_id}: window {end - start:.2f} s, {m.get('samples')} samples")
        print(f"        energy  {m.get('energy_j')} J   reference {ref_energy} J")
        print(f"        util    {m.get('gpu_util_mean_pct')} %   reference {ref_util:.1f} %")
        print(f"        power   {m.get('gpu_power_mean_w')} W   reference {ref_power:.1f} W")
        print(f"        memory  peak {m.get('gpu_mem_peak_bytes')} B, J/token {m.get('j_per_token')}")
        energy = m.get("energy_j")
        check(energy is not None and ref_energy is not None
              and abs(energy - ref_energy) <= 0.05 * ref_energy + 0.15 * ref_power,
              f"{label}: cell energy within 5 % (+150 ms of power) of the reference")
        util = m.get("gpu_util_mean_pct")
        check(util is not None and abs(util - ref_util) <= 15.0,
              f"{label}: cell utilisation within 15 points of the reference")
        mean_power = m.get("gpu_power_mean_w")
        check(mean_power is not None and abs(mean_power - ref_power) <= 0.1 * ref_power,
              f"{label}: cell power within 10 % of the reference")
        result = (util or 0.0, mean_power or 0.0)
    return result


def main():
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    idle = compare_run("idle", sys.argv[1], sys.argv[2])
    busy = compare_run("busy", sys.argv[3], sys.argv[4])
    print()
    if idle and busy:
        check(busy[0] >= 50.0 and busy[0] >= idle[0] + 30.0,
              f"busy utilisation {busy[0]:.0f} % well above idle {idle[0]:.0f} %")
        check(busy[1] >= idle[1] + 50.0,
              f"busy power {busy[1]:.0f} W well above idle {idle[1]:.0f} W")
    print(f"\n{len(failures)} check(s) failed" if failures else "\nall GPU checks passed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
