"""Run the fake on a loopback port in a background thread, for tests, demos and benchmarks."""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType
from typing import Any, Literal, Self, cast

import uvicorn
from starlette.types import ASGIApp

from fake_spotify.app import create_fake_spotify_app
from fake_spotify.state import FakeSpotifyState

_START_TIMEOUT_SECONDS = 10.0


class BackgroundServer:
    """Any ASGI app served by uvicorn on a loopback port in a daemon thread."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        name: str = "asgi-server",
        lifespan: Literal["on", "off", "auto"] = "off",
    ) -> None:
        self.app = app
        self.host = host
        self.name = name
        self._lifespan = lifespan
        self._requested_port = port
        self._port: int | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The port the server listens on (known once started)."""
        if self._port is None:
            raise RuntimeError(f"the {self.name} server is not running")
        return self._port

    @property
    def base_url(self) -> str:
        """Root URL, e.g. http://127.0.0.1:54321."""
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        """Bind the port and serve in a daemon thread; returns once the server accepts requests."""
        if self._server is not None:
            raise RuntimeError(f"the {self.name} server is already running")
        # Binding here, not inside uvicorn, is how port 0 becomes a known free port. The
        # explicit IPPROTO_TCP matters: asyncio only sets TCP_NODELAY on sockets that say
        # so, and without it every response waits ~40 ms on delayed ACKs.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self._requested_port))
        self._port = sock.getsockname()[1]
        config = uvicorn.Config(
            cast("Any", self.app),  # uvicorn's own ASGI type is narrower than Starlette's
            log_level="warning",
            access_log=False,
            lifespan=self._lifespan,
            timeout_graceful_shutdown=1,
        )
        server = uvicorn.Server(config)
        # uvicorn installs signal handlers only on the main thread; ours runs elsewhere.
        self._server = server
        self._thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name=self.name, daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + _START_TIMEOUT_SECONDS
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the {self.name} server did not start")
            time.sleep(0.005)

    def wait_until_idle(self, timeout: float = _START_TIMEOUT_SECONDS) -> None:
        """Block until no request is in progress, such as one whose client gave up on it."""
        if self._server is None:
            raise RuntimeError(f"the {self.name} server is not running")
        tasks = self._server.server_state.tasks
        deadline = time.monotonic() + timeout
        while tasks:
            if time.monotonic() > deadline:
                raise TimeoutError(f"the {self.name} server is still handling a request")
            time.sleep(0.005)

    def stop(self) -> None:
        """Ask uvicorn to exit and wait for the thread."""
        if self._server is not None:
            self._server.should_exit = True
            # Idle keep-alive connections would otherwise hold the shutdown back.
            self._server.force_exit = True
        if self._thread is not None:
            self._thread.join(timeout=_START_TIMEOUT_SECONDS)
        self._server = None
        self._thread = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


class FakeSpotifyServer(BackgroundServer):
    """The fake Spotify as a real HTTP server, started and stopped around a `with` block."""

    def __init__(
        self, state: FakeSpotifyState | None = None, *, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.state = state or FakeSpotifyState()
        super().__init__(
            create_fake_spotify_app(self.state), host=host, port=port, name="fake-spotify"
        )

    @property
    def accounts_url(self) -> str:
        """Where accounts.spotify.com lives in the fake (same host as the API)."""
        return self.base_url

    @property
    def api_url(self) -> str:
        """Where api.spotify.com/v1 lives in the fake."""
        return f"{self.base_url}/v1"
