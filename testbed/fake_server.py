"""Starting a fake gateway server (`testbed.fake_stripe`, `fake_chargebee`, `fake_razorpay`)
in a subprocess on a free loopback port, for tests and benchmarks."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from contextlib import contextmanager
from pathlib import Path

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.Response]]


@contextmanager
def start(module: str, **popen):
    """`python -m <module> PORT` for the block: yields its base URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    repository = Path(__file__).resolve().parents[1]
    process = subprocess.Popen([sys.executable, "-m", module, str(port)], cwd=repository, **popen)
    try:
        _wait_until_serving(module, port, process)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(10)


def _wait_until_serving(module: str, port: int, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{module} exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{module} did not listen on port {port} within 20 s")


def application(
    routes: list[tuple[str, str, Handler]],
    objects: Callable[[], dict[str, list[dict]]],
    reset: Callable[[], None],
) -> web.Application:
    """A fake's routes, plus `GET /_config/objects` (everything it holds, for tests to count)
    and `DELETE /_config/data` (back to empty)."""
    app = web.Application()
    for method, path, handler in routes:
        app.router.add_route(method, path, handler)

    async def list_objects(request: web.Request) -> web.Response:
        return web.json_response(objects())

    async def clear(request: web.Request) -> web.Response:
        reset()
        return web.json_response({})

    app.router.add_get("/_config/objects", list_objects)
    app.router.add_delete("/_config/data", clear)
    return app


def serve(app: web.Application) -> None:
    """Serve on loopback at the port given as the first argument (`start` passes it)."""
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)
