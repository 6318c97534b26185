"""Independent NVML readings for checking llmbench's GPU monitor.

usage: reference.py OUT.jsonl SECONDS [--load]

Samples GPU 0 every 50 ms through nvidia-ml-py (a different NVML binding
from llmbench's) and writes one JSON object per line: unix time, utilisation,
memory, power, energy counter, SM clock, temperature. With --load it keeps
the GPU busy with bf16 matrix products (PyTorch) and starts its readings once the
GPU is busy, so they have something to show.
"""

import json
import sys
import threading
import time

import pynvml


def reading(read):
    """A reading the device does not support is None, as in llmbench's samples."""
    try:
        return read()
    except pynvml.NVMLError:
        return None


def sample(handle):
    util = reading(lambda: pynvml.nvmlDeviceGetUtilizationRates(handle).gpu)
    mem = reading(lambda: pynvml.nvmlDeviceGetMemoryInfo(handle))
    power = reading(lambda: pynvml.nvmlDeviceGetPowerUsage(handle))
    return {
        "t": time.time(),
        "util_pct": util,
        "mem_used_bytes": mem.used if mem else None,
        "mem_total_bytes": mem.total if mem else None,
        "power_w": power / 1000.0 if power is not None else None,
        "energy_mj": reading(lambda: pynvml.nvmlDeviceGetTotalEnergyConsumption(handle)),
        "sm_clock_mhz": reading(lambda: pynvml.nvmlDeviceGetClockInfo(handle, pynvml.NVML_CLOCK_SM)),
        "temp_c": reading(
            lambda: pynvml.nvmlDeviceGetTemperature(handle, pynvml.NVML_TEMPERATURE_GPU)
        ),
    }


def keep_busy(busy, stop):
    import torch

    a = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
    b = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
    products = 0
    while not stop.is_set():
        for _ in range(20):
            a @ b
        torch.cuda.synchronize()
        products += 20
        busy.set()
    print(f"load: {products} products of 8192x8192 bf16", file=sys.stderr)


def main():
    out, seconds = sys.argv[1], float(sys.argv[2])
    load = "--load" in sys.argv[3:]
    pynvml.nvmlInit()
    handle = pynvml.nvmlDeviceGetHandleByIndex(0)
    busy, stop = threading.Event(), threading.Event()
    loader = None
    if load:
        # Importing PyTorch and the first products take seconds: the
        # readings (and the caller's wait for them) start once the GPU is busy.
        loader = threading.Thread(target=keep_busy, args=(busy, stop))
        loader.start()
        busy.wait(timeout=120)
    until = time.time() + seconds
    with open(out, "w") as f:
        while time.time() < until:
            f.write(json.dumps(sample(handle)) + "\n")
            f.flush()
            time.sleep(0.05)
    stop.set()
    # The load thread must leave CUDA before the interpreter exits, or the
    # process aborts ("terminate called without an active exception").
    if loader is not None:
        loader.join()
    pynvml.nvmlShutdown()


if __name__ == "__main__":
    main()
