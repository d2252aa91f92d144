"""Stands in for ``python -m vllm.entrypoints.openai.api_server`` where no GPU is: serves the
instant fake server on the ``--port`` it is given, and records in ``$FAKE_VLLM_RECORD`` (a
folder) its arguments, its ``CUDA_VISIBLE_DEVICES`` and, when stopped by SIGTERM, the number
of completion requests it answered. The placement test of ``sfstream run --ray --serve``
starts it through ``--python`` (a small script that runs this file)."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
from instant_fake_server import InstantFakeServer


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-m", dest="module")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--served-model-name")
    parser.add_argument("--tensor-parallel-size")
    args, _ = parser.parse_known_args()
    record = Path(os.environ["FAKE_VLLM_RECORD"]) / f"{os.getpid()}.json"
    info = {
        "module": args.module,
        "port": args.port,
        "model": args.served_model_name,
        "tensor_parallel_size": args.tensor_parallel_size,
        "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
        "argv": sys.argv[1:],
        "requests": None,
    }
    record.write_bytes(orjson.dumps(info))
    server = InstantFakeServer(port=args.port)

    def stop(signum: int, frame: object) -> None:
        # The fake counts every request but /metrics: less the one /health that answered.
        info["requests"] = server.requests - 1
        record.write_bytes(orjson.dumps(info))
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    asyncio.run(server.serve())


if __name__ == "__main__":
    main()
