"""Local SGLang serving: start ``python -m sglang.launch_server`` for a model, connect the frontend.

:class:`LocalServer` runs SGLang's real server as a subprocess on 127.0.0.1 and a free port, in
its own process group, waits for it to be ready, and stops the whole group on exit, exception or
Ctrl-C. With a CUDA device it uses SGLang's ordinary GPU path; without one it applies the CPU
recipe (SGLang's CPU engine, torch-native attention, and the ``sgl_kernel`` stand-in from
:mod:`plato_sgl.serving.cpu_shim` on the server's import path only).

:func:`connect` attaches the frontend to any server and warms it up; :func:`open_backend` gives a
local server's endpoint or a running server's, for the CLI's ``--model``/``--url``.
"""

from __future__ import annotations

import atexit
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Iterator, Sequence

import psutil
import requests

from plato_sgl.core.checks import check_number, positive
from plato_sgl.core.errors import PlatoError, ServerError
from plato_sgl.core.options import Options
from plato_sgl.engine.chat_template import detect_chat_template
from plato_sgl.engine.connect import connect as attach
from plato_sgl.methods.registry import openings
from plato_sgl.serving import models
from plato_sgl.serving.cpu_shim import SHIM_DIR

if TYPE_CHECKING:  # sglang imports torch: load it only when a backend is made
    import sglang as sgl

LOG_TAIL_LINES = 20
CPU_WATCHDOG_SECONDS = 1800
# The CPU server's dtype, chosen by measurement (benchmarks/engine-cpu); ``-- --dtype D`` overrides it.
CPU_DTYPE = "bfloat16"
_STOP_GRACE_SECONDS = 12.0


def default_threads() -> int:
    """OpenMP threads for a CPU server: ``$PLATO_SGL_THREADS``, else every usable core.

    Chosen by measurement on an otherwise idle machine (``benchmarks/engine-cpu``); on a machine
    busy with other heavy work, fewer threads degrade more gently: set ``PLATO_SGL_THREADS``.
    """
    value = os.environ.get("PLATO_SGL_THREADS", "").strip()
    if value:
        try:
            return max(1, int(value))
        except ValueError:
            raise PlatoError(f"PLATO_SGL_THREADS must be a whole number, not {value!r}") from None
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def cuda_available() -> bool:
    """True when torch sees a CUDA device (then the server takes SGLang's GPU path)."""
    import torch  # deferred: torch takes seconds to import, and only starting a server needs it

    return torch.cuda.is_available()


# Below Linux's default ephemeral range (32768-60999). A server's own processes bind their internal
# sockets (torch's gloo, ZMQ) to ports the OS picks from that range, so a port the OS picked for us
# there can go to one of them before the server binds it, and the server never starts.
_PORTS = range(20000, 32768)
_given: set[int] = set()  # handed out by this process: a server may not have bound its port yet


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now, outside the range the OS hands out itself."""
    for port in random.sample(_PORTS, 64):
        if port in _given:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind((host, port))
            except OSError:
                continue
        _given.add(port)
        return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:  # that range is full: let the OS pick
        sock.bind((host, 0))
        return sock.getsockname()[1]


# The methods whose static prompt text a connection caches on the server: the default ones.
WARM_METHODS = ("plato", "auto", "ar")


def connect(
    url: str, *, chat_template: str | None = None, timeout: float = 30.0, warm_up: bool = True
) -> sgl.RuntimeEndpoint:
    """Attach SGLang's frontend to the server (or sglang-router) at ``url``, as
    :func:`plato_sgl.engine.connect.connect` does; with ``warm_up``, every worker also caches the
    static prompt text (system prompts, instructions, worked examples) of ``WARM_METHODS`` under
    their default options, so the first question on a fresh server prefills only its own text."""
    warm = openings([(method, Options()) for method in WARM_METHODS]) if warm_up else []
    return attach(url, chat_template=chat_template, timeout=timeout, warm_up=warm_up, openings=warm)


class LocalServer:
    """An SGLang server subprocess for one model; a context manager that always stops it.

    ``model`` is a registry name (see :data:`plato_sgl.serving.models.MODELS`) or a local HF model folder.
    ``start()`` (or entering the ``with`` block) blocks until the server answers ``/health``;
    ``stop()`` ends the server's whole process group and is safe to call more than once.
    """

    kind = "server"  # in messages
    log_name = "sglang"  # its log file's prefix

    def __init__(
        self,
        model: str | os.PathLike,
        *,
        port: int | None = None,
        host: str = "127.0.0.1",
        threads: int | None = None,
        max_total_tokens: int = 8192,
        startup_timeout: float = 300.0,
        extra_args: Sequence[str] = (),
        log_path: str | os.PathLike | None = None,
    ):
        self.model = os.fspath(model)
        self.host = host
        self.port = port
        self.threads = threads
        self.max_total_tokens = max_total_tokens
        self.startup_timeout = startup_timeout
        self.extra_args = tuple(extra_args)
        self.log_path: Path | None = Path(log_path) if log_path is not None else None
        self.model_dir: Path | None = None
        self.chat_template: str | None = None
        self.process: subprocess.Popen | None = None
        self._log_file = None
        self._stopped = False

    @property
    def url(self) -> str:
        """Base URL of the server (known once started)."""
        if self.port is None:
            raise ServerError("the server has not been started yet")
        return f"http://{self.host}:{self.port}"

    def __enter__(self) -> "LocalServer":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def start(self) -> "LocalServer":
        """Resolve the model, launch the server and wait until it is ready (or raise ServerError)."""
        self.launch()
        try:
            self.wait_until_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def launch(self) -> "LocalServer":
        """Start the process, without waiting for it to be ready (see :meth:`start`;
        :class:`LocalCluster` launches its workers together, then waits for each)."""
        if self.process is not None:
            raise ServerError(f"this {self.kind} was already started (at {self.url})")
        self._prepare()
        self.port = self.port or free_port(self.host)  # as late as can be, so no other process takes it first
        command, env = self._process()
        if self.log_path is None:
            self.log_path = _new_log_path(self.port, self.log_name)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log_file = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            command,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # own process group: stop() can end every child, Ctrl-C skips it
        )
        atexit.register(self.stop)
        return self

    def _prepare(self) -> None:
        """Resolve the model (the first time, a build can take minutes)."""
        try:
            self.model_dir = models.resolve_model(self.model)
        except PlatoError as exc:
            raise ServerError(f"cannot serve {self.model!r}: {exc}") from exc
        self.chat_template = models.chat_template_name(self.model_dir)

    def _process(self) -> tuple[list[str], dict[str, str] | None]:
        """The server's command and environment."""
        on_cpu = not cuda_available()
        return self._command(on_cpu), self._environment(on_cpu)

    def stop(self) -> None:
        """Stop the server and all its child processes (SIGTERM, then SIGKILL); idempotent."""
        if self.process is not None and not self._stopped:
            self._stopped = True
            _terminate_tree(self.process, _STOP_GRACE_SECONDS)
            atexit.unregister(self.stop)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def endpoint(self, *, chat_template: str | None = None, warm_up: bool = True) -> sgl.RuntimeEndpoint:
        """A frontend backend connected to this server: with ``chat_template`` if given, else ChatML
        when the model folder's tokenizer formats chats exactly so, else the template :func:`connect`
        detects. ``warm_up``: have the server compile the default grammars and cache the default methods'
        static prompt text first (:func:`connect`)."""
        return connect(self.url, chat_template=chat_template or self.chat_template, warm_up=warm_up)

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        """The last ``lines`` lines of the server's log."""
        return _tail(self.log_path, lines) if self.log_path else ""

    def _command(self, on_cpu: bool) -> list[str]:
        command = [
            sys.executable,
            "-m",
            "sglang.launch_server",
            "--model-path",
            str(self.model_dir),
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--max-total-tokens",
            str(self.max_total_tokens),
        ]
        if self.model in models.MODELS:  # answer under the registry name, not the cache folder's path
            command += ["--served-model-name", self.model]
        if on_cpu:
            command += [
                "--device",
                "cpu",
                "--attention-backend",
                "torch_native",
                "--sampling-backend",
                "pytorch",
                "--grammar-backend",
                "xgrammar",
                "--dtype",
                CPU_DTYPE,
                "--sleep-on-idle",  # otherwise the idle scheduler keeps a core at 100%
                # A slow CPU is not a hung one: a long prefill batch on a busy CPU can outlast
                # SGLang's default watchdog, which then kills the server.
                "--watchdog-timeout",
                str(CPU_WATCHDOG_SECONDS),
            ]
        return command + list(self.extra_args)

    def _environment(self, on_cpu: bool) -> dict[str, str]:
        env = dict(os.environ)
        env["HF_HUB_OFFLINE"] = "1"  # the model is a local folder: never ask a hub
        # /health answers 200 once warm-up is done, without generating a token per poll.
        env["SGLANG_ENABLE_HEALTH_ENDPOINT_GENERATION"] = "0"
        if on_cpu:
            env["SGLANG_USE_CPU_ENGINE"] = "1"
            env["OMP_NUM_THREADS"] = str(self.threads or default_threads())
            env["PYTHONPATH"] = os.pathsep.join(p for p in (str(SHIM_DIR), env.get("PYTHONPATH", "")) if p)
        return env

    def wait_until_ready(self) -> None:
        """Block until the launched server answers ``/health`` (ServerError, quoting its log, if it
        exits first or takes longer than ``startup_timeout``)."""
        _wait_until_ready(self, f"the SGLang server for {self.model!r}", "/health", self.startup_timeout)

    def _log_quote(self) -> str:
        return f"Last lines of its log ({self.log_path}):\n{self.log_tail()}"


def _wait_until_ready(server, what: str, path: str, timeout: float, ready=None) -> None:
    """Poll ``server.url + path`` until it answers 200 (and ``ready(response)`` holds, if given).

    ``server`` is a :class:`LocalServer` or :class:`LocalRouter` (a ``process``, ``url`` and
    ``_log_quote``). ServerError, quoting its log, if the process exits first or ``timeout`` passes.
    """

    deadline = time.monotonic() + timeout
    while True:
        code = server.process.poll()
        if code is not None:
            raise ServerError(f"{what} exited with code {code} before it was ready.\n" + server._log_quote())
        try:
            response = requests.get(server.url + path, timeout=5)
            if response.status_code == 200 and (ready is None or ready(response)):
                return
        except requests.RequestException:
            pass  # not listening yet
        if time.monotonic() > deadline:
            raise ServerError(f"{what} was not ready within {timeout:.0f} s at {server.url}.\n" + server._log_quote())
        time.sleep(0.5)


class LocalRouter(LocalServer):
    """sglang-router (``python -m sglang_router.launch_router``) in front of running SGLang workers.

    It shares :class:`LocalServer`'s process handling (own process group, log file, stopped on exit,
    exception or Ctrl-C); only its command and its readiness differ: ready once ``/workers`` lists
    every worker as healthy. ``policy`` is the router's (:data:`ROUTER_POLICIES`; default
    :data:`DEFAULT_ROUTER_POLICY`): ``manual`` keeps the requests of one routing key (a question) on
    one worker and puts a new key on the least loaded; ``cache_aware`` sends a request to the worker
    whose cache holds the longest part of its prompt, while the load is balanced.
    """

    kind = "router"
    log_name = "sglang-router"

    def __init__(
        self,
        worker_urls: Sequence[str],
        *,
        port: int | None = None,
        host: str = "127.0.0.1",
        policy: str | None = None,
        startup_timeout: float = 120.0,
        extra_args: Sequence[str] = (),
        log_path: str | os.PathLike | None = None,
    ):
        super().__init__(
            "sglang-router",
            port=port,
            host=host,
            startup_timeout=startup_timeout,
            extra_args=extra_args,
            log_path=log_path,
        )
        self.worker_urls = list(worker_urls)
        self.policy = policy or DEFAULT_ROUTER_POLICY
        if self.policy not in ROUTER_POLICIES:
            raise ValueError(f"unknown router policy {self.policy!r}; choose one of: {', '.join(ROUTER_POLICIES)}")

    def _prepare(self) -> None:
        """Nothing to resolve: the router serves the workers it is given."""

    def _process(self) -> tuple[list[str], None]:
        # its metrics exporter listens on 29000 unless told otherwise: a second router would fail to start
        self.metrics_port = free_port(self.host)
        return self._command(), None

    def wait_until_ready(self) -> None:
        count = len(self.worker_urls)

        def all_workers_healthy(response) -> bool:
            workers = response.json().get("workers") or []
            return len(workers) == count and all(w.get("is_healthy") for w in workers)

        _wait_until_ready(
            self, f"sglang-router (for {count} workers)", "/workers", self.startup_timeout, all_workers_healthy
        )

    def _command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "sglang_router.launch_router",
            "--worker-urls",
            *self.worker_urls,
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--prometheus-host",
            self.host,
            "--prometheus-port",
            str(self.metrics_port),
            "--policy",
            self.policy,
            # manual: a new routing key (a question, see plato_sgl.engine.endpoint) goes to the least loaded worker
            *(["--assignment-mode", "min_load"] if self.policy == "manual" else []),
            "--log-level",
            "warn",
            "--shutdown-grace-period-secs",
            "5",  # stop() waits less than that before it kills
            # A worker that dies is taken out of rotation within seconds, not after 3 checks a minute apart.
            "--health-check-interval-secs",
            str(ROUTER_HEALTH_CHECK_SECONDS),
            "--health-failure-threshold",
            "1",
            *self.extra_args,
        ]


ROUTER_HEALTH_CHECK_SECONDS = 2
# sglang-router's policies (``--policy``, sglang-router 0.3.2). ``manual`` routes by the
# X-SMG-Routing-Key header every request of a question carries (plato_sgl.engine.endpoint): all of a
# question's requests on one worker, a new question on the least loaded (``--assignment-mode
# min_load``). Why it is the default: docs/serving.md, "Several workers".
ROUTER_POLICIES = ("manual", "cache_aware", "round_robin", "power_of_two", "random")
DEFAULT_ROUTER_POLICY = "manual"


class LocalCluster:
    """``workers`` SGLang servers for one model behind one sglang-router: one URL, data-parallel.

    Each worker is a :class:`LocalServer` (launched together, then waited for), the router a
    :class:`LocalRouter` with ``policy`` (default ``manual``: all of a question's requests, which
    share one long prefix, on one worker; questions spread by load). ``url`` is the router's; ``connect(url)`` and every
    method work through it. A context manager that always stops the router and every worker.
    ``worker_options`` go to each LocalServer (``threads``, ``max_total_tokens``, ``extra_args``...).
    """

    def __init__(
        self,
        model: str | os.PathLike,
        *,
        workers: int = 2,
        port: int | None = None,
        host: str = "127.0.0.1",
        policy: str | None = None,
        router_args: Sequence[str] = (),
        **worker_options,
    ):
        check_number("workers", workers, "a positive integer", positive)
        self.model = os.fspath(model)
        self.workers = [LocalServer(model, host=host, **worker_options) for _ in range(workers)]
        self.router = LocalRouter([], port=port, host=host, policy=policy, extra_args=router_args)

    @property
    def url(self) -> str:
        """The router's URL: the one address of the whole cluster."""
        return self.router.url

    @property
    def chat_template(self) -> str | None:
        return self.workers[0].chat_template

    @property
    def model_dir(self) -> Path | None:
        return self.workers[0].model_dir

    @property
    def log_path(self) -> Path | None:
        return self.router.log_path

    def __enter__(self) -> "LocalCluster":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def start(self) -> "LocalCluster":
        """Launch every worker, wait for each, then start the router in front of them."""
        try:
            for worker in self.workers:
                worker.launch()
            for worker in self.workers:
                worker.wait_until_ready()
            self.router.worker_urls = [w.url for w in self.workers]
            self.router.start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop the router, then every worker (each with its whole process group); idempotent."""
        self.router.stop()
        for worker in self.workers:
            worker.stop()

    def endpoint(self, *, chat_template: str | None = None, warm_up: bool = True) -> "sgl.RuntimeEndpoint":
        """A frontend backend connected to the router (see :meth:`LocalServer.endpoint`)."""
        return connect(self.url, chat_template=chat_template or self.chat_template, warm_up=warm_up)

    def _log_quote(self) -> str:
        return "\n".join(
            f"{what}:\n{server._log_quote()}"
            for what, server in [
                ("the router", self.router),
                *((f"worker {i}", w) for i, w in enumerate(self.workers, 1)),
            ]
        )


def _new_log_path(port: int, name: str) -> Path:
    folder = Path(tempfile.gettempdir()) / "plato-sgl-logs"
    return folder / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}-port{port}.log"


def _tail(path: Path, lines: int) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        return f"(log unreadable: {exc})"
    return "\n".join(text.rstrip().splitlines()[-lines:])


def _terminate_tree(process: subprocess.Popen, grace: float) -> None:
    """Stop the launcher gracefully, then SIGKILL whatever is left of its process group.

    Only the launcher gets SIGTERM: it drains requests and stops its own children (about 5 s,
    SGLang polls for it every 5 s). A SIGTERM to the whole group instead makes it report its
    scheduler as crashed and wait 5 s more for crash diagnostics.
    """

    try:
        members = [psutil.Process(process.pid)]
        members += members[0].children(recursive=True)
    except psutil.NoSuchProcess:
        members = []
    process.send_signal(signal.SIGTERM)
    _wait_until_gone(process, members, grace)
    _signal_group(process.pid, signal.SIGKILL)  # also catches children started after the snapshot
    for member in _running(members):
        try:
            member.kill()
        except psutil.Error:
            pass
    _wait_until_gone(process, members, 5.0)
    try:
        process.wait(timeout=5)  # reap the launcher: no zombie left behind
    except subprocess.TimeoutExpired:
        pass


def _wait_until_gone(process: subprocess.Popen, members: list, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        process.poll()  # reap our direct child as soon as it exits
        if not _running(members):
            return
        time.sleep(0.1)


def _running(members: list) -> list:
    """Members still running code (exited and zombie processes do not count)."""

    alive = []
    for member in members:
        try:
            if member.is_running() and member.status() != psutil.STATUS_ZOMBIE:
                alive.append(member)
        except psutil.Error:
            pass
    return alive


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


@contextmanager
def open_backend(
    *,
    model: str | os.PathLike | None = None,
    url: str | None = None,
    chat_template: str | None = None,
    warm_up: bool = True,
    **server_options,
) -> Iterator[sgl.RuntimeEndpoint]:
    """Yield a RuntimeEndpoint for a model (a LocalServer, always stopped) or a running server's URL.

    Give exactly one of ``model`` and ``url``. ``chat_template`` names the SGLang chat template to
    use as given; None (the default) takes the model's own: ChatML when the model folder's
    tokenizer formats chats exactly so (``model``), else the one :func:`connect` detects.
    ``warm_up``: compile the default Plato grammars on the server before yielding (see
    :func:`connect`). ``server_options`` go to :class:`LocalServer`.
    """
    if (model is None) == (url is None):
        raise ValueError("give exactly one of model= (start a local server) and url= (use a running one)")
    if url is not None:
        if server_options:
            raise ValueError(f"server options {sorted(server_options)} need model=, not url=")
        yield connect(url, chat_template=chat_template, warm_up=warm_up)
        return
    with LocalServer(model, **server_options) as server:
        yield server.endpoint(chat_template=chat_template, warm_up=warm_up)


def serve_forever(
    model: str | os.PathLike,
    *,
    port: int | None = None,
    threads: int | None = None,
    workers: int = 1,
    policy: str | None = None,
    **server_options,
) -> None:
    """Serve ``model`` until Ctrl-C (or SIGTERM), printing the URL and how to use it; then stop.

    ``workers`` > 1 starts that many SGLang servers behind sglang-router (:class:`LocalCluster`),
    the router on ``port``: the printed URL is the router's, the one clients use; ``policy`` is its
    routing policy (default :data:`DEFAULT_ROUTER_POLICY`).
    """
    if workers > 1:
        server = LocalCluster(model, workers=workers, port=port, threads=threads, policy=policy, **server_options)
    else:
        server = LocalServer(model, port=port, threads=threads, **server_options)
    try:
        with sigterm_as_interrupt(), server:
            print(_usage(server, _template_line(server)), flush=True)
            process = server.router.process if isinstance(server, LocalCluster) else server.process
            code = process.wait()
            what = "sglang-router" if isinstance(server, LocalCluster) else "the SGLang server"
            raise ServerError(f"{what} exited with code {code}.\n{server._log_quote()}")
    except KeyboardInterrupt:
        print("\nplato-sgl: server stopped.", flush=True)


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Treat SIGTERM (``kill``) like Ctrl-C inside the block, so a server started there is stopped,
    not orphaned. Main thread only; the previous handler is restored on the way out."""
    previous = signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _raise_keyboard_interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def _template_line(server: "LocalServer | LocalCluster") -> str:
    """The chat template clients of ``server`` get by default, or why they must choose one."""

    if server.chat_template:
        return f"{server.chat_template} (the model's tokenizer formats chats as ChatML)"
    try:
        probe = server.workers[0].url if isinstance(server, LocalCluster) else server.url
        return f"{detect_chat_template(probe)} (detected; clients detect it too)"
    except ServerError as exc:
        return f"none detected: clients must choose one with --chat-template NAME ({exc})"


def _usage(server: "LocalServer | LocalCluster", template_line: str) -> str:
    if isinstance(server, LocalCluster):
        head = [
            f"plato-sgl: {len(server.workers)} SGLang workers for {server.model} are ready behind sglang-router at {server.url}",
            f"  workers:       {', '.join(w.url for w in server.workers)} ({server.router.policy} routing)",
        ]
        logs = [
            f"  router log:    {server.router.log_path}",
            *(f"  worker log:    {w.log_path}" for w in server.workers),
        ]
    else:
        head = [f"plato-sgl: SGLang server for {server.model} is ready at {server.url}"]
        logs = [f"  server log:    {server.log_path}"]
    return "\n".join(
        [
            *head,
            f"  model folder:  {server.model_dir}",
            f"  chat template: {template_line}",
            *logs,
            "Use it from another terminal:",
            f'  plato-sgl ask --url {server.url} "What are the main benefits of regular exercise?"',
            f"  python -c 'from plato_sgl.serving import connect; backend = connect(\"{server.url}\")'",
            "Press Ctrl-C to stop it.",
        ]
    )


__all__ = [
    "LocalServer",
    "LocalRouter",
    "LocalCluster",
    "open_backend",
    "serve_forever",
    "default_threads",
    "free_port",
]
