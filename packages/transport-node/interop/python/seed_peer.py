"""A peer that frames exactly as the seed's asyncio side does (async_recv_pkg / async_output).

Reading: ``header = await reader.readexactly(4)``, ``length = int.from_bytes(header, "big")``, the body with
``readexactly(length)`` (``b""`` when the length is 0). Writing: ``writer.write(len.to_bytes(4, "big") + body)``
then ``await writer.drain()``. Nothing else: no size limit, no validation, as in the seed.

Modes:
  seed_peer.py server
      Echo server on 127.0.0.1, ephemeral port. Prints "PORT <port>" on stdout, then echoes every frame of
      every connection in order. Exits when stdin closes, so it never outlives the process that started it.
  seed_peer.py client <port> <size> [<size> ...]
      Connects to 127.0.0.1:<port>, writes one frame per size (pipelined: all written before the first is
      read), then reads as many frames back and checks each is the frame it sent. Prints "OK <count>" and
      exits 0, or prints "FAIL <reason>" and exits 1.
"""

import asyncio
import random
import sys


# --- The seed's framing ---------------------------------------------------------------------------------


async def async_recv_pkg(reader: asyncio.StreamReader) -> bytes:
    header_data = await reader.readexactly(4)
    body_length = int.from_bytes(header_data, byteorder="big")
    if body_length == 0:
        return b""
    return await reader.readexactly(body_length)


async def async_output(writer: asyncio.StreamWriter, body: bytes) -> None:
    # The seed's output() takes bytes that are already framed; the framing is done here.
    writer.write(len(body).to_bytes(4, byteorder="big") + body)
    await writer.drain()


# --- Modes ------------------------------------------------------------------------------------------------


def payload(size: int, index: int) -> bytes:
    return random.Random(index * 7919 + size).randbytes(size)


async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            try:
                body = await async_recv_pkg(reader)
            except asyncio.IncompleteReadError:
                return  # end of stream, clean or inside a frame
            await async_output(writer, body)
    except ConnectionError:
        return
    finally:
        writer.close()


async def wait_stdin_closed() -> None:
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.buffer.read)


async def serve() -> None:
    server = await asyncio.start_server(echo, host="127.0.0.1", port=0)
    port = server.sockets[0].getsockname()[1]
    print(f"PORT {port}", flush=True)
    async with server:
        await wait_stdin_closed()


async def client(port: int, sizes: list[int]) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        sent = [payload(size, i) for i, size in enumerate(sizes)]
        for body in sent:
            await async_output(writer, body)
        for i, body in enumerate(sent):
            got = await async_recv_pkg(reader)
            if got != body:
                print(f"FAIL frame {i}: sent {len(body)} bytes, got {len(got)} different bytes", flush=True)
                return 1
        print(f"OK {len(sent)}", flush=True)
        return 0
    except (asyncio.IncompleteReadError, ConnectionError) as error:
        print(f"FAIL {type(error).__name__}: {error}", flush=True)
        return 1
    finally:
        writer.close()


def main(argv: list[str]) -> int:
    if len(argv) >= 1 and argv[0] == "server":
        try:
            asyncio.run(serve())
        except KeyboardInterrupt:
            pass
        return 0
    if len(argv) >= 2 and argv[0] == "client":
        return asyncio.run(client(int(argv[1]), [int(size) for size in argv[2:]]))
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
