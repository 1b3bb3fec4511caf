"""The seed's asyncio transport as a bench client: ``open_connection``, ``readexactly``, ``write`` + ``drain``.

The data path follows the seed's design text:
- connecting: ``asyncio.wait_for(asyncio.open_connection(host, port), timeout)``, then the socket from
  ``writer.get_extra_info("socket")`` gets ``TCP_NODELAY`` and TCP keepalive as the sync side does.
- ``async_output(msg)``: ``writer.write(msg)`` then ``await writer.drain()``.
- ``async_recv_pkg()``: ``await reader.readexactly(4)``, the big-endian length, then
  ``await reader.readexactly(length)`` (``b""`` for a length of 0). No size check, as in the seed.

Workloads (see ``bench_protocol.py`` for the input and the result line):
- ``ping-pong``: ``async_output`` then ``async_recv_pkg``, one at a time.
- ``pipelined`` and ``large``: a sending task and a receiving task, at most ``window`` frames outstanding.
- ``connections``: ``count`` connections opened at once with ``asyncio.gather``; the time to open them all and
  the resident memory each adds (Python has no heap figure comparable to V8's).
"""

import asyncio
import gc
import socket
import time

import bench_protocol

TIMEOUT = 30.0
KEEP_ALIVE_INTERVAL = 30.0


class SeedAsyncConnection:
    """The connected state of the seed's ``AsyncConnectionStateMachine``, without the state machine around it."""

    def __init__(self, host: str, port: int) -> None:
        self.address = (host, port)
        self._reader = None
        self._writer = None

    async def start(self) -> None:
        self._reader, self._writer = await asyncio.wait_for(
            asyncio.open_connection(*self.address),
            timeout=TIMEOUT,
        )
        sock = self._writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
            if hasattr(socket, "TCP_KEEPIDLE"):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, int(KEEP_ALIVE_INTERVAL))
            if hasattr(socket, "TCP_KEEPINTVL"):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, int(KEEP_ALIVE_INTERVAL // 2))
            if hasattr(socket, "TCP_KEEPCNT"):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, 3)

    async def async_output(self, msg: bytes) -> None:
        self._writer.write(msg)
        await self._writer.drain()

    async def async_recv_pkg(self) -> bytes:
        header_data = await self._reader.readexactly(4)
        body_length = int.from_bytes(header_data, byteorder="big")
        if body_length == 0:
            return b""
        return await self._reader.readexactly(body_length)

    async def stop(self) -> None:
        if self._writer is not None:
            self._writer.close()
            try:
                await self._writer.wait_closed()
            except (ConnectionError, OSError):
                pass


async def stream(connection: SeedAsyncConnection, ring: list, count: int, window: int) -> float:
    """``count`` frames, at most ``window`` outstanding; the elapsed seconds."""
    size = len(ring[0])
    room = asyncio.Semaphore(window)

    async def send_all() -> None:
        for i in range(count):
            await room.acquire()
            await connection.async_output(bench_protocol.frame_of(ring[i % len(ring)]))

    async def receive_all() -> None:
        for i in range(count):
            frame = await connection.async_recv_pkg()
            bench_protocol.check(frame, size, i % len(ring))
            room.release()

    started = time.perf_counter()
    sender = asyncio.ensure_future(send_all())
    receiver = asyncio.ensure_future(receive_all())
    done, pending = await asyncio.wait([sender, receiver], return_when=asyncio.FIRST_EXCEPTION)
    for task in pending:
        task.cancel()
    for task in done:
        task.result()
    for task in pending:
        try:
            await task
        except asyncio.CancelledError:
            pass
    return time.perf_counter() - started


async def ping_pong(connection: SeedAsyncConnection, ring: list, count: int) -> list:
    """``count`` round trips, one outstanding; each one's seconds."""
    size = len(ring[0])
    samples = []
    for i in range(count):
        started = time.perf_counter()
        await connection.async_output(bench_protocol.frame_of(ring[i % len(ring)]))
        echo = await connection.async_recv_pkg()
        samples.append(time.perf_counter() - started)
        bench_protocol.check(echo, size, i % len(ring))
    return samples


async def connections(spec: dict) -> dict:
    async def open_all(count: int) -> list:
        held = [SeedAsyncConnection(spec["host"], spec["port"]) for _ in range(count)]
        await asyncio.gather(*(connection.start() for connection in held))
        return held

    async def close_all(held: list) -> None:
        await asyncio.gather(*(connection.stop() for connection in held))

    count = spec["count"]
    # Warm the code paths first, as the worker does, so that loading them is not counted per connection.
    await close_all(await open_all(min(20, count)))
    gc.collect()
    before = bench_protocol.rss_bytes()
    started = time.perf_counter()
    held = await open_all(count)
    connect_ms = (time.perf_counter() - started) * 1000
    await asyncio.sleep(0.3)
    gc.collect()
    after = bench_protocol.rss_bytes()
    await close_all(held)
    metrics = {"connectMs": connect_ms}
    if before >= 0 and after >= 0:
        metrics["rssKiB"] = (after - before) / count / 1024
    return metrics


async def measure_async(spec: dict) -> dict:
    workload = spec["workload"]
    if workload == "connections":
        return await connections(spec)
    if workload not in ("pipelined", "large", "ping-pong"):
        raise ValueError(f"the seed's asyncio client does not run the {workload} workload")
    count, size, window, warmup = spec["count"], spec["size"], spec["window"], spec["warmup"]
    connection = SeedAsyncConnection(spec["host"], spec["port"])
    await connection.start()
    try:
        ring = bench_protocol.make_ring(size, bench_protocol.ring_size(size, window))
        if workload == "ping-pong":
            samples = await ping_pong(connection, ring, warmup + count)
            return bench_protocol.ping_pong_metrics(samples, count, warmup)
        if warmup > 0:
            await stream(connection, ring, warmup, window)
        seconds = await stream(connection, ring, count, window)
        if workload == "large":
            return {"mbPerSec": count * size / 1e6 / seconds}
        return {"framesPerSec": count / seconds}
    finally:
        await connection.stop()


def measure(spec: dict) -> dict:
    return asyncio.run(measure_async(spec))


if __name__ == "__main__":
    bench_protocol.run(measure)
