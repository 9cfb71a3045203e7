"""The WebSocket library under a gateway: server CPU per message, aiohttp against picows.

    python bench/ws_libraries.py [--clients 1000] [--duration 15]

A server process holds N client sockets and does a gateway's socket work only:
every 100 ms it writes one 140-byte message to each client (in 4 slices 2 ms
apart, as the gateway's sender does), and it reads and decodes the 40-byte
message each client sends ten times a second. Nothing else runs in it, so its
CPU over the window divided by the messages it moved is what the library (and
the kernel under it) costs per message. The clients are picows sockets in this
process. Figures only.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import socket
import subprocess
import sys
import time

import msgspec
import psutil
import uvloop
from aiohttp import WSMsgType, web
from picows import WSFrame, WSListener, WSTransport, ws_connect, ws_create_server
from picows import WSMsgType as PicoType

from realmkit.procs import free_port, stop_process

FRAME_SECONDS = 0.1
OUT = b"x" * 140
IN = msgspec.msgpack.encode({"t": "move", "x": 1.0, "y": 2.0, "z": 0.0, "o": 0.5, "seq": 1})
_decode = msgspec.msgpack.Decoder()


async def fan_out(write: list, stop: asyncio.Event) -> None:  # type: ignore[type-arg]
    loop = asyncio.get_running_loop()
    deadline = loop.time()
    while not stop.is_set():
        size = max(1, -(-len(write) // 4))
        targets = list(write)
        for start in range(0, len(targets), size):
            if start:
                await asyncio.sleep(0.002)
            for w in targets[start : start + size]:
                await w(OUT)
        deadline += FRAME_SECONDS
        await asyncio.sleep(max(0.0, deadline - loop.time()))


async def serve_aiohttp(port: int) -> None:
    writers: list = []  # type: ignore[type-arg]

    async def route(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=4096, heartbeat=20.0)
        await ws.prepare(request)
        writers.append(ws.send_bytes)
        async for msg in ws:
            if msg.type == WSMsgType.BINARY:
                _decode.decode(msg.data)
        return ws

    app = web.Application()
    app.add_routes([web.get("/ws", route)])
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    await _until_stopped(writers)


async def serve_picows(port: int) -> None:
    writers: list = []  # type: ignore[type-arg]

    class Server(WSListener):
        def on_ws_connected(self, transport: WSTransport) -> None:
            async def write(data: bytes) -> None:
                transport.send(PicoType.BINARY, data)

            writers.append(write)

        def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
            if frame.msg_type == PicoType.BINARY:
                _decode.decode(frame.get_payload_as_memoryview())
            elif frame.msg_type == PicoType.CLOSE:
                transport.send_close(frame.get_close_code())
                transport.disconnect()

    await ws_create_server(lambda request: Server(), "127.0.0.1", port)
    await _until_stopped(writers)


async def _until_stopped(writers: list) -> None:  # type: ignore[type-arg]
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, lambda: None)
    sending = asyncio.create_task(fan_out(writers, stop))
    await stop.wait()
    sending.cancel()


class Client(WSListener):
    def __init__(self) -> None:
        self.received = 0

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        if frame.msg_type == PicoType.BINARY:
            self.received += 1


async def drive(port: int, server: psutil.Process, clients: int, duration: float) -> str:
    url = f"ws://127.0.0.1:{port}/ws"
    socks: list[tuple[WSTransport, Client]] = []
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            await asyncio.sleep(0.1)
    for _ in range(clients):
        socks.append(await ws_connect(Client, url))  # type: ignore[arg-type]
    stop = asyncio.Event()

    async def send_inputs() -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time()
        k = 0
        while not stop.is_set():
            for transport, _ in socks[k % 10 :: 10]:
                transport.send(PicoType.BINARY, IN)
            k += 1
            deadline += FRAME_SECONDS / 10
            await asyncio.sleep(max(0.0, deadline - loop.time()))

    inputs = asyncio.create_task(send_inputs())
    await asyncio.sleep(3.0)  # settle
    got = sum(c.received for _, c in socks)
    before = server.cpu_times()
    started = time.monotonic()
    await asyncio.sleep(duration)
    elapsed = time.monotonic() - started
    after = server.cpu_times()
    got = sum(c.received for _, c in socks) - got
    stop.set()
    await inputs
    for transport, _ in socks:
        transport.disconnect()
    used = (after.user - before.user) + (after.system - before.system)
    kernel = after.system - before.system
    moved = got + clients * duration / FRAME_SECONDS  # out (counted) + in (sent)
    return (
        f"{100 * used / elapsed:6.1f}% of a core, kernel {100 * kernel / elapsed:5.1f}%; "
        f"{1e6 * used / moved:5.1f} us per message ({1e6 * kernel / moved:4.1f} in the kernel); "
        f"{got / elapsed / clients:4.1f} messages out per client a second"
    )


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "_serve":
        serve = serve_aiohttp if sys.argv[2] == "aiohttp" else serve_picows
        uvloop.run(serve(int(sys.argv[3])))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--duration", type=float, default=15.0)
    args = parser.parse_args()
    for library in ("aiohttp", "picows"):
        port = free_port()
        server = subprocess.Popen([sys.executable, __file__, "_serve", library, str(port)])
        try:
            line = uvloop.run(drive(port, psutil.Process(server.pid), args.clients, args.duration))
            print(f"{library:8} {args.clients} clients: {line}", flush=True)
        finally:
            stop_process(server.pid, timeout=10)


if __name__ == "__main__":
    main()
