"""The seed's synchronous transport as a bench client: a blocking socket, ``output`` and ``recv_pkg``.

The data path follows the seed's design text:
- connecting: ``socket.socket(AF_INET, SOCK_STREAM)``, ``settimeout(connect_timeout)``, ``connect``; then
  ``TCP_NODELAY``, ``settimeout(timeout)`` and TCP keepalive (``SO_KEEPALIVE``, ``TCP_KEEPIDLE`` = the
  interval, ``TCP_KEEPINTVL`` = half of it, ``TCP_KEEPCNT`` = 3). Buffer sizes stay the OS's, as the seed's
  connect path leaves them.
- ``output(msg)``: refuses a message over ``max_message_size``, then ``send(msg[total_sent:])`` until all of it
  is written; a send of 0 bytes is a lost connection.
- ``recv_pkg()``: ``_recv_exactly(4)``, the big-endian length, the length checked against
  ``max_message_size``, then ``_recv_exactly(length)``; ``b""`` for an empty frame and for end of stream alike.
- ``_recv_exactly(size)``: ``recv(remaining)`` until ``size`` bytes have come, appended with ``data += chunk``.

The seed's ``DEFAULT_CONFIG`` values, except ``max_message_size``: 2 MiB (its ``HIGH_PERFORMANCE_CONFIG``
value), since ``output`` counts the 4 length bytes and the 1 MiB default would refuse a framed 1 MiB payload.

Workloads (see ``bench_protocol.py`` for the input and the result line):
- ``ping-pong``: ``output`` then ``recv_pkg``, one at a time.
- ``pipelined`` and ``large``: a blocking socket cannot wait on both directions at once, so a sender thread
  calls ``output`` while the main thread calls ``recv_pkg``, with at most ``window`` frames outstanding. One
  thread alternating the two would deadlock against a server that stops reading while its echoes wait to be
  written.
"""

import socket
import threading
import time

import bench_protocol


class SeedConfig:
    host = "localhost"
    port = 8080
    timeout = 30.0
    connect_timeout = 10.0
    keep_alive = True
    keep_alive_interval = 30.0
    max_message_size = 2 * 1024 * 1024

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port

    @property
    def address(self) -> tuple:
        return (self.host, self.port)


class SeedConnection:
    """The connected state of the seed's ``ConnectionStateMachine``, without the state machine around it."""

    def __init__(self, config: SeedConfig) -> None:
        self.config = config
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.settimeout(config.connect_timeout)
        self._socket.connect(config.address)
        # on_connect_success
        self._socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._socket.settimeout(config.timeout)
        if config.keep_alive:
            self._set_keepalive()

    def _set_keepalive(self) -> None:
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        if hasattr(socket, "TCP_KEEPIDLE"):
            self._socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, int(self.config.keep_alive_interval))
        if hasattr(socket, "TCP_KEEPINTVL"):
            self._socket.setsockopt(
                socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, int(self.config.keep_alive_interval // 2)
            )
        if hasattr(socket, "TCP_KEEPCNT"):
            self._socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, 3)

    def output(self, msg: bytes) -> None:
        if len(msg) > self.config.max_message_size:
            raise ValueError(f"message too large: {len(msg)} > {self.config.max_message_size}")
        total_sent = 0
        while total_sent < len(msg):
            sent = self._socket.send(msg[total_sent:])
            if sent == 0:
                raise ConnectionError("connection lost")
            total_sent += sent

    def recv_pkg(self) -> bytes:
        header_data = self._recv_exactly(4)
        if not header_data:
            return b""
        body_length = int.from_bytes(header_data, byteorder="big", signed=False)
        if body_length > self.config.max_message_size:
            raise ValueError(f"body length over the limit: {body_length}")
        if body_length == 0:
            return b""
        return self._recv_exactly(body_length)

    def _recv_exactly(self, size: int) -> bytes:
        data = b""
        remaining = size
        while remaining > 0:
            chunk = self._socket.recv(remaining)
            if not chunk:
                return b""
            data += chunk
            remaining -= len(chunk)
        return data

    def wake(self) -> None:
        """Ends a ``recv`` blocked in another thread (it then sees end of stream)."""
        try:
            self._socket.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def stop(self) -> None:
        self._socket.close()


def stream(connection: SeedConnection, ring: list, count: int, window: int) -> float:
    """``count`` frames, at most ``window`` outstanding; the elapsed seconds."""
    size = len(ring[0])
    room = threading.Semaphore(window)
    failures = []

    def send_all() -> None:
        try:
            for i in range(count):
                room.acquire()
                if failures:
                    return
                connection.output(bench_protocol.frame_of(ring[i % len(ring)]))
        except Exception as error:  # noqa: BLE001 - reported by the receiving thread
            failures.append(error)
            connection.wake()

    sender = threading.Thread(target=send_all, daemon=True)
    started = time.perf_counter()
    sender.start()
    try:
        for i in range(count):
            frame = connection.recv_pkg()
            bench_protocol.check(frame, size, i % len(ring))
            room.release()
    except Exception:
        if failures:
            raise failures[0]
        failures.append(None)
        room.release()
        raise
    elapsed = time.perf_counter() - started
    sender.join()
    if failures:
        raise failures[0]
    return elapsed


def ping_pong(connection: SeedConnection, ring: list, count: int) -> list:
    """``count`` round trips, one outstanding; each one's seconds."""
    size = len(ring[0])
    samples = []
    for i in range(count):
        started = time.perf_counter()
        connection.output(bench_protocol.frame_of(ring[i % len(ring)]))
        echo = connection.recv_pkg()
        samples.append(time.perf_counter() - started)
        bench_protocol.check(echo, size, i % len(ring))
    return samples


def measure(spec: dict) -> dict:
    workload = spec["workload"]
    if workload not in ("pipelined", "large", "ping-pong"):
        raise ValueError(f"the seed's sync client does not run the {workload} workload")
    count, size, window, warmup = spec["count"], spec["size"], spec["window"], spec["warmup"]
    connection = SeedConnection(SeedConfig(spec["host"], spec["port"]))
    try:
        ring = bench_protocol.make_ring(size, bench_protocol.ring_size(size, window))
        if workload == "ping-pong":
            return bench_protocol.ping_pong_metrics(ping_pong(connection, ring, warmup + count), count, warmup)
        if warmup > 0:
            stream(connection, ring, warmup, window)
        seconds = stream(connection, ring, count, window)
        if workload == "large":
            return {"mbPerSec": count * size / 1e6 / seconds}
        return {"framesPerSec": count / seconds}
    finally:
        connection.stop()


if __name__ == "__main__":
    bench_protocol.run(measure)
