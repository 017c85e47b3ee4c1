"""`canonry serve`: the read-only HTTP API and web UI, on uvicorn (HTTP/1.1 through h11).

Routes (GET and HEAD; every other method is 405 with `Allow: GET, HEAD`):

    /libraries                                           libraries and their latest version
    /libraries/{name}/versions                           versions with metadata and deprecation
    /libraries/{name}/versions/{version}                 one version        ({version}: vN, N, latest)
    /libraries/{name}/versions/{version}/entries         its entries        (?limit=N&after=ID pages)
    /libraries/{name}/versions/{version}/entries/{id}    one entry
    /diff?from=LIB@vA&to=LIB@vB                          canonry.diff/v1
    /health  /openapi.json  /ui/...                      health, the contract, the web UI

Stateless: every worker (and every replica behind a load balancer) opens the
repository or its own mirror and answers from it alone; validators are
content ids, so replicas answer alike. With `--workers N` the workers are
separate processes (uvicorn's supervisor) that rebuild their Canon from a
ServeConfig passed in the environment.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import threading
import time
import warnings
from dataclasses import asdict, dataclass
from typing import Any

from ..errors import CanonryError
from ..store.repo import Repository
from .api import Canon
from .asgi import App
from .mirror import Mirror, is_remote, redact
from .protocol import MAX_TARGET
from .routes import Api

__all__ = ["MAX_TARGET", "Running", "ServeConfig", "app_from_env", "make_app", "serve", "start"]

CONFIG_ENV = "CANONRY_SERVE_CONFIG"
BACKLOG = 2048  # listen queue: a burst of hundreds of connects never waits for a SYN retry
MAX_HEAD = 128 * 1024  # request line + headers h11 buffers; past MAX_TARGET the Api answers 414


@dataclass(frozen=True)
class ServeConfig:
    """What a worker needs to open the same Canon as every other worker."""

    repo: str | None = None  # a repository path (used when source is None)
    source: str | None = None  # a path or URL
    workspace: str | None = None
    quiet: bool = False


def open_canon(config: ServeConfig, fetch: bool = False) -> Canon:
    """A Canon for serving (no downgrade watermark: a server is not a consumer)."""
    chosen = config.source or config.repo or "."
    if is_remote(chosen):
        mirror = Mirror(chosen)
        repo = mirror.open(fetch=fetch)
        return Canon(repo, redact(chosen), mirror=mirror, workspace=config.workspace)
    repo = Repository(chosen, allow_shallow=True)
    return Canon(repo, str(repo.workdir or repo.git_dir).rstrip("/"), workspace=config.workspace)


def make_app(canon: Canon, quiet: bool = False) -> App:
    """The ASGI application: the JSON API and the web UI under /ui."""
    from .ui import mount

    log = (lambda text: None) if quiet else None
    return App(mount(Api(canon, log=log)))


def app_from_env() -> App:
    """The application a worker process builds (uvicorn factory): from $CANONRY_SERVE_CONFIG."""
    config = ServeConfig(**json.loads(os.environ[CONFIG_ENV]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the supervisor already reported them once
        canon = open_canon(config)
    return make_app(canon, config.quiet)


def _uvicorn_config(app: Any, quiet: bool, workers: int = 1) -> Any:
    import uvicorn

    from .wire import CanonryH11Protocol

    return uvicorn.Config(
        app,
        factory=isinstance(app, str),
        workers=workers,
        http=CanonryH11Protocol,
        ws="none",
        lifespan="off",
        backlog=BACKLOG,
        h11_max_incomplete_event_size=MAX_HEAD,
        server_header=False,
        access_log=not quiet,
        log_level="warning" if quiet else "info",
        log_config=None if quiet else uvicorn.config.LOGGING_CONFIG,
    )


def bind(host: str, port: int) -> socket.socket:
    """A listening socket (port 0: any free port); refuse clearly when it cannot be had."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise CanonryError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.listen(BACKLOG)
    sock.set_inheritable(True)
    return sock


class Running:
    """A server on a background thread (tests and embedding): `.port`, `.stop()`."""

    def __init__(self, app: App, host: str = "127.0.0.1", port: int = 0, quiet: bool = True) -> None:
        import uvicorn

        self.socket = bind(host, port)
        self.port: int = self.socket.getsockname()[1]
        self.server = uvicorn.Server(_uvicorn_config(app, quiet))
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.socket]}, name="canonry-serve", daemon=True
        )

    def start(self) -> Running:
        self.thread.start()
        while not self.server.started and self.thread.is_alive():
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.socket.close()


def start(canon: Canon, host: str = "127.0.0.1", port: int = 0, quiet: bool = True) -> Running:
    """Serve canon on a background thread; stop with `.stop()`."""
    return Running(make_app(canon, quiet), host, port, quiet).start()


def _fetch_loop(canon: Canon, refresh: float, stop: threading.Event) -> None:
    assert canon.mirror is not None
    # Short sleeps, not stop.wait(refresh): a timed condition wait never wakes
    # under a shifted clock (libfaketime), and a service must not stop refreshing then.
    due = time.monotonic() + refresh
    while not stop.is_set():
        time.sleep(min(0.05, refresh))
        if time.monotonic() < due:
            continue
        due = time.monotonic() + refresh
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                canon.refresh()
            except CanonryError as exc:
                canon.mirror.record_failure(str(exc))
                sys.stderr.write(f"canonry serve: fetch failed: {exc}\n")
        for w in caught:
            sys.stderr.write(f"canonry serve: warning: {w.message}\n")


def serve(
    config: ServeConfig,
    host: str = "127.0.0.1",
    port: int = 8080,
    *,
    workers: int = 1,
    refresh: float = 60.0,
) -> None:
    """Serve until interrupted; a remote source is fetched again every `refresh` seconds.

    The fetches run in this process only; workers read the mirror it keeps.
    """
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    canon = open_canon(config, fetch=True)
    sock = bind(host, port)
    stop = threading.Event()
    if canon.mirror is not None and refresh > 0:
        threading.Thread(
            target=_fetch_loop, args=(canon, refresh, stop), name="canonry-fetch", daemon=True
        ).start()
    shown = f"[{host}]" if ":" in host else host
    sys.stderr.write(
        f"canonry serve: http://{shown}:{sock.getsockname()[1]}/ (read-only, {workers} worker"
        f"{'s' if workers > 1 else ''}; UI at /ui/; Ctrl-C stops)\n"
    )
    sys.stderr.flush()
    try:
        if workers > 1:
            os.environ[CONFIG_ENV] = json.dumps(asdict(config))
            config_obj = _uvicorn_config("canonry.runtime.serve:app_from_env", config.quiet, workers)
            Multiprocess(config_obj, sockets=[sock]).run()
        else:
            uvicorn.Server(_uvicorn_config(make_app(canon, config.quiet), config.quiet)).run(sockets=[sock])
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        sock.close()
