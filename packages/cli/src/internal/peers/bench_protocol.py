"""What the seed clients share with ``internal/benchWorker.ts``: the input, the payloads and the result line.

``Bench.ts`` starts a client as ``python3 -B <client>.py '<json input>'`` with the worker's input (workload,
host, port, count, size, window, warmup) and reads the last line of its standard output: either
``{"ok": true, "metrics": {...}}`` or ``{"ok": false, "error": "..."}``. The metrics carry the worker's names
(``framesPerSec``, ``mbPerSec``, ``p50Us``, ``p99Us``, ``coldP99Us``, ``roundTripsPerSec``, ``connectMs``,
``rssKiB``), so one harness reads every client.
"""

import json
import math
import os
import sys
import traceback


def read_input() -> dict:
    return json.loads(sys.argv[1] if len(sys.argv) > 1 else "{}")


def ring_size(size: int, window: int) -> int:
    """As the worker's: twice the window at least, so an index is never outstanding twice."""
    return max(2 * window, 16 if size >= 64 * 1024 else 1024)


def make_ring(size: int, length: int) -> list:
    """Payloads with their index in the ring in the first four bytes (big-endian), the rest its low byte."""
    ring = []
    for i in range(length):
        payload = bytearray([i & 0xFF]) * size
        if size >= 4:
            payload[0:4] = i.to_bytes(4, "big")
        ring.append(bytes(payload))
    return ring


def frame_of(payload: bytes) -> bytes:
    """The seed's ``output`` takes bytes already framed: the length prefix goes in front here, one copy."""
    return len(payload).to_bytes(4, "big") + payload


def check(frame: bytes, size: int, index: int) -> None:
    if len(frame) != size:
        raise RuntimeError(f"echo {index}: {len(frame)} bytes instead of {size}")
    if size >= 4 and int.from_bytes(frame[0:4], "big") != index:
        raise RuntimeError(f"echo out of order or corrupt at ring index {index}")


def ping_pong_metrics(samples: list, count: int, warmup: int) -> dict:
    """Warm figures over the ``count`` round trips after the warm-up; the cold p99 over the first ``count``."""

    def at(sorted_samples: list, p: float) -> float:
        return sorted_samples[min(len(sorted_samples) - 1, math.ceil(p / 100 * len(sorted_samples)) - 1)]

    warm = sorted(samples[warmup:warmup + count])
    cold = sorted(samples[0:count])
    total = sum(warm)
    return {
        "p50Us": at(warm, 50) * 1e6,
        "p99Us": at(warm, 99) * 1e6,
        "coldP99Us": at(cold, 99) * 1e6,
        "roundTripsPerSec": len(warm) / total if total > 0 else None,
    }


def rss_bytes() -> int:
    """The resident set now (Linux); -1 where ``/proc`` is absent."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return -1


def run(measure) -> None:
    """Runs ``measure(input)`` and prints its metrics, or the error, as the one result line."""
    try:
        output = {"ok": True, "metrics": measure(read_input())}
    except Exception as error:  # noqa: BLE001 - any failure is the measurement's result
        detail = "".join(traceback.format_exception_only(type(error), error)).strip()
        output = {"ok": False, "error": detail}
    sys.stdout.write(json.dumps(output) + "\n")
    sys.stdout.flush()
