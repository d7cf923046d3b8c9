"""What kind of SGLang backend a question runs on: the runtime or an OpenAI-style API, the served
model's name, (for the runtime) the chat template its prompts are rendered with, and the grammar
warm-up (:func:`warm_up`, sent through SGLang's frontend) that :func:`plato_sgl.serving.connect` runs.

The lowest layer that knows about backends: methods, the benchmark and the judge ask here rather
than inspecting backend classes themselves. It is also the one place that speaks plain HTTP to an
SGLang server (:func:`server_model_info`, the template probe); SGLang's frontend does the rest.

**Chat template detection.** SGLang's frontend renders ``sgl.system/user/assistant`` with one of its
own chat templates (``sglang.lang.chat_template``: ``chatml``, ``llama-3-instruct``, ``mistral``,
...), chosen by the client, while the server knows the model's real template. A wrong choice is
silent: the model just gets prompts in a format it was not trained on. :func:`detect_chat_template`
therefore renders a probe conversation (system + user + the assistant's turn opened) with each
candidate template, asks the server to tokenize that text and to tokenize the same conversation
with its own chat template (``/tokenize``), and takes the first candidate whose token ids are
identical. Candidates are the templates SGLang's own matching functions pick from the model's
name and path, then every registered template. Servers without ``/tokenize`` are compared by
token counts instead (``/v1/chat/completions`` ``usage.prompt_tokens`` against ``/generate``'s
``prompt_tokens``), a weaker check. No match is a :class:`~plato_sgl.errors.ServerError` that
names the model and how to choose a template.

SGLang itself is imported only when needed (it imports torch, seconds): the HTTP helpers do not.
"""

from __future__ import annotations

import copy
from typing import Any, Callable, Iterable, Sequence

from plato_sgl.errors import ServerError

# The conversation the chat template probe renders: the shape of every plato-sgl prompt (a system
# message, a user message, then the assistant's turn opened for generation).
PROBE_MESSAGES: tuple[dict[str, str], ...] = (
    {"role": "system", "content": "You are a careful assistant. Answer in one sentence."},
    {"role": "user", "content": "Which planet is closest to the sun, and how long is its year?"},
)


def is_sglang_runtime(backend: Any) -> bool:
    """Whether ``backend`` is SGLang's own runtime: it alone enforces ``gen(regex=...)`` and lets a
    program prefill a prefix (OpenAI-style APIs, including SGLang's own /v1, do neither)."""
    from sglang.lang.backend.runtime_endpoint import RuntimeEndpoint

    return isinstance(getattr(backend, "endpoint", backend), RuntimeEndpoint)


def go_first(backend: Any, regex: str | None) -> None:
    """Tell a question's endpoint that requests decoded under ``regex`` (a plan, a skeleton) unblock
    its others, so admission and the server's priority scheduling put them first
    (``plato_sgl.cancel.QuestionEndpoint.go_first``); any other backend ignores it."""
    mark = getattr(backend, "go_first", None)
    if mark is not None and regex is not None:
        mark(regex)


def stop_first(backend: Any) -> list[str]:
    """Abort a question's requests in flight that go first (its plan) because their text is no
    longer needed (``plato_sgl.cancel.QuestionEndpoint.stop_first``); returns the aborted request
    ids. Any other backend cannot abort one request and lets it run to its end (returns [])."""
    stop = getattr(backend, "stop_first", None)
    return stop() if stop is not None else []


def model_name(backend: Any) -> str:
    """The served model's name (``--served-model-name``, by default its path). OpenAI-style backends
    keep it in ``model_name`` (the ``get_model_name`` they inherit raises NotImplementedError);
    SGLang's runtime reports it in ``model_info`` (its ``get_model_name`` is the model's path)."""
    endpoint = getattr(backend, "endpoint", backend)
    info = getattr(endpoint, "model_info", None) or {}
    return getattr(endpoint, "model_name", None) or info.get("served_model_name") or endpoint.get_model_name()


def chat_template_of(backend: Any) -> str | None:
    """The name of the SGLang chat template ``backend`` renders prompts with (None if it has none)."""
    endpoint = getattr(backend, "endpoint", backend)
    return getattr(getattr(endpoint, "chat_template", None), "name", None)


# ---------------------------------------------------------------- chat templates (pure)


def chat_template_names() -> list[str]:
    """Every chat template SGLang's frontend has, in its registration order."""
    from sglang.lang.chat_template import chat_template_registry

    return list(chat_template_registry)


def check_chat_template_name(name: str) -> str:
    """``name`` if SGLang's frontend has a chat template of that name; else ValueError listing them."""
    names = chat_template_names()
    if name not in names:
        raise ValueError(f"unknown chat template {name!r}; SGLang's chat templates are: {', '.join(names)}")
    return name


def candidate_templates(*model_names: str | None) -> list[str]:
    """Chat template names to try for a model, most likely first, each once.

    First the templates SGLang's own matching functions pick from each name (served name, model
    path, tokenizer path; e.g. ``Meta-Llama-3-8B-Instruct`` gives ``llama-3-instruct``), then every
    registered template. A guess from the name alone is not trusted: :func:`detect_chat_template`
    verifies each candidate against the server.
    """
    from sglang.lang.chat_template import matching_function_registry

    guessed = [match(name) for name in model_names if name for match in matching_function_registry]
    registered = chat_template_names()
    return list(dict.fromkeys(n for n in [*guessed, *registered] if n in registered))


def render_chat(template: Any, messages: Iterable[dict[str, str]] = PROBE_MESSAGES) -> str:
    """The text SGLang's frontend sends for ``messages`` followed by an opened assistant turn, as
    ``s += sgl.system(...); s += sgl.user(...); s += sgl.assistant(sgl.gen(...))`` writes it.

    ``template`` is a template name or an ``sglang.lang.chat_template.ChatTemplate``. The first
    message must be a system message (otherwise the frontend would insert the default one).
    """
    if isinstance(template, str):
        from sglang.lang.chat_template import get_chat_template

        template = get_chat_template(check_chat_template_name(template))
    text, history = "", []
    for message in messages:
        prefix, suffix = template.get_prefix_and_suffix(message["role"], history)
        text += prefix + message["content"] + suffix
        history.append(message)
    prefix, _ = template.get_prefix_and_suffix("assistant", history)
    return text + prefix


def first_match(candidates: Sequence[str], rendered: Sequence[Any], served: Any) -> str | None:
    """The first candidate whose rendering (token ids, or a count) equals the server's own, or None."""
    for name, tokens in zip(candidates, rendered, strict=True):
        if tokens == served:
            return name
    return None


# ---------------------------------------------------------------- talking to the server


def server_model_info(url: str, timeout: float = 30.0) -> dict[str, Any]:
    """The server's ``/model_info`` (model path, served name, tokenizer path, ...).

    Also the reachability check: every failure becomes a ServerError naming the URL and the cause.
    """
    response = _request("GET", url, "/model_info", timeout=timeout)
    if response.status_code != 200:
        raise ServerError(
            f"the server at {url} answered HTTP {response.status_code} to /model_info: "
            "it is not an SGLang server, or it is not ready yet"
        )
    return response.json()


def detect_chat_template(
    url: str, *, timeout: float = 30.0, info: dict[str, Any] | None = None, via: str | None = None
) -> str:
    """The SGLang chat template whose prompts the server at ``url`` tokenizes exactly as it
    tokenizes the same conversation with its model's own chat template (see the module notes).

    ``info`` is the server's ``/model_info`` when already fetched. ``via`` chooses the comparison:
    ``"tokenize"`` (token ids from ``/tokenize``), ``"counts"`` (prompt token counts from
    ``/v1/chat/completions`` and ``/generate``) or None: ``"tokenize"`` when the server has it.
    Raises ServerError when no template matches or the server cannot render a chat at all.
    """
    url = url.rstrip("/")
    info = info if info is not None else server_model_info(url, timeout)
    model = info.get("served_model_name") or info.get("model_path") or "(unnamed)"
    candidates = candidate_templates(info.get("served_model_name"), info.get("model_path"), info.get("tokenizer_path"))
    texts = [render_chat(name) for name in candidates]
    if via not in (None, "tokenize", "counts"):
        raise ValueError(f"via must be 'tokenize', 'counts' or None, not {via!r}")
    served = None
    if via in (None, "tokenize"):
        served = _tokenize(url, {"messages": list(PROBE_MESSAGES)}, model, timeout, missing_ok=via is None)
        via = "counts" if served is None else "tokenize"
    if via == "tokenize":
        rendered = _tokenize(url, {"prompt": texts}, model, timeout)
    else:
        served = _chat_prompt_tokens(url, model, timeout)
        rendered = _generate_prompt_tokens(url, texts, model, timeout)
    match = first_match(candidates, rendered, served)
    if match is None:
        raise ServerError(_no_template_message(url, model, len(candidates), via, served))
    return match


def _no_template_message(url: str, model: str, tried: int, via: str, served: Any) -> str:
    compared = "token ids (/tokenize)" if via == "tokenize" else "prompt token counts"
    seen = ""
    if via == "tokenize":
        text = _detokenize(url, served)
        if text is not None:
            seen = f" The server's own chat template writes a system + user conversation as {text!r}."
    return (
        f"the chat template of model {model!r} at {url} matches none of SGLang's {tried} chat templates "
        f"(compared by {compared} of a system + user conversation), so plato-sgl cannot render its "
        f"prompts correctly.{seen} If one of SGLang's templates is right for this model, choose it "
        f"explicitly: connect(url, chat_template=NAME), open_backend(url=..., chat_template=NAME) or "
        f"--chat-template NAME on the command line (NAME one of: {', '.join(chat_template_names())})."
    )


def _tokenize(url: str, payload: dict[str, Any], model: str, timeout: float, missing_ok: bool = False) -> Any:
    """``/tokenize``'s token ids: one list for ``messages`` (the server's own chat template with a
    generation prompt, as for a chat completion), a list per text for ``prompt`` (encoded as
    ``/generate`` encodes the frontend's text: special tokens such as a BOS added). None, with
    ``missing_ok``, from a server without ``/tokenize`` (it answers 404)."""
    response = _request("POST", url, "/tokenize", json=payload, timeout=timeout)
    if missing_ok and response.status_code in (404, 405):
        return None
    if response.status_code != 200:
        raise _cannot_render(url, model, "/tokenize", response)
    return response.json()["tokens"]


def _chat_prompt_tokens(url: str, model: str, timeout: float) -> int:
    payload = {"model": model, "messages": list(PROBE_MESSAGES), "max_tokens": 1, "temperature": 0}
    response = _request("POST", url, "/v1/chat/completions", json=payload, timeout=timeout)
    if response.status_code != 200:
        raise _cannot_render(url, model, "/v1/chat/completions", response)
    return response.json()["usage"]["prompt_tokens"]


def _generate_prompt_tokens(url: str, texts: list[str], model: str, timeout: float) -> list[int]:
    payload = {"text": texts, "sampling_params": {"max_new_tokens": 0}}
    response = _request("POST", url, "/generate", json=payload, timeout=timeout)
    if response.status_code != 200:
        raise ServerError(f"the server at {url} refused the chat template probe on /generate: {_body(response)}")
    return [item["meta_info"]["prompt_tokens"] for item in response.json()]


def _detokenize(url: str, tokens: list[int]) -> str | None:
    try:
        response = _request(
            "POST", url, "/detokenize", json={"tokens": tokens, "skip_special_tokens": False}, timeout=10.0
        )
    except ServerError:
        return None
    return response.json().get("text") if response.status_code == 200 else None


def _cannot_render(url: str, model: str, path: str, response: Any) -> ServerError:
    return ServerError(
        f"the server at {url} could not render a chat with model {model!r}'s own chat template "
        f"({path} answered HTTP {response.status_code}: {_body(response)}), so its chat template "
        "cannot be detected. Choose one of SGLang's explicitly: connect(url, chat_template=NAME) or "
        f"--chat-template NAME on the command line (NAME one of: {', '.join(chat_template_names())})."
    )


def _body(response: Any, limit: int = 300) -> str:
    text = response.text.strip()
    return text if len(text) <= limit else text[:limit] + " ..."


def _request(method: str, url: str, path: str, *, timeout: float, json: Any = None) -> Any:
    """One HTTP request to the server; connection failures become ServerErrors naming url and cause."""
    import requests

    try:
        return requests.request(method, url + path, json=json, timeout=timeout)
    except requests.exceptions.InvalidURL as exc:
        raise ServerError(f"{url!r} is not a valid server URL ({exc})") from None
    except (requests.exceptions.MissingSchema, requests.exceptions.InvalidSchema):
        raise ServerError(f"{url!r} is not a valid server URL: it must start with http:// or https://") from None
    except requests.exceptions.Timeout:
        raise ServerError(f"the SGLang server at {url} did not answer {path} within {timeout:g} s") from None
    except requests.exceptions.ConnectionError as exc:
        raise ServerError(f"cannot reach an SGLang server at {url}: {_connection_cause(exc)}") from None


# ---------------------------------------------------------------- grammar warm-up


def warm_up(backend: Any, regexes: Sequence[str], *, timeout: float | None = None) -> None:
    """Have the server compile and cache the grammar of each regex, before the first question needs it.

    SGLang compiles a ``gen(regex=...)`` grammar when a request first uses it (xgrammar: the
    tokenizer's info once, then the regex) and caches it by its regex string; on a fresh server
    that is seconds the first Plato question would otherwise wait for its plan. One request per
    regex goes through SGLang's frontend on ``backend`` (a one-token ``gen`` under it). Only
    SGLang's runtime compiles grammars: on any other backend this does nothing. A request that
    fails, or does not answer within ``timeout`` seconds (None: no limit), raises ServerError
    naming the regex's purpose.
    """
    if not regexes or not is_sglang_runtime(backend):
        return
    for number, regex in enumerate(regexes, 1):
        error = _warm_up_one(backend, regex, timeout)
        if error is not None:
            url = getattr(getattr(backend, "endpoint", backend), "base_url", "the server")
            raise ServerError(
                f"the grammar warm-up of {_purpose(regex, number, len(regexes))} on the SGLang server at "
                f"{url} failed: {error}. connect(url, warm_up=False) skips the warm-up (the first question "
                "then compiles its grammars itself)."
            )


def warm_up_workers(
    endpoint: Any,
    regexes: Sequence[str],
    *,
    timeout: float | None = None,
    on_error: Callable[[str, ServerError], None] | None = None,
) -> None:
    """:func:`warm_up` on every server that requests sent to ``endpoint`` run on: each worker behind
    an sglang-router compiles its own grammars, so warming the one the router picks is not enough.
    ``on_error(worker_url, error)``, if given, is told of a worker whose warm-up failed (e.g. a dead
    one) and the others are still warmed up; without it the first failure raises."""
    if not regexes or not is_sglang_runtime(endpoint):
        return
    url = endpoint.base_url.rstrip("/")
    for worker in worker_urls(url, timeout or 10.0):
        target = endpoint
        if worker != url:
            target = copy.copy(endpoint)  # the same chat template and settings, another address
            target.base_url = worker
        try:
            warm_up(target, regexes, timeout=timeout)
        except ServerError as exc:
            if on_error is None:
                raise
            on_error(worker, exc)


def _warm_up_one(backend: Any, regex: str, timeout: float | None) -> str | None:
    """Send the one-token request under ``regex``; None when it succeeded, else what went wrong."""
    import threading

    outcome: list[str | None] = []

    def work() -> None:
        try:
            state = _warm_up_program().run(regex=regex, backend=backend)
            error = state.error()  # SGLang keeps a worker's exception: fetch it
        except Exception as exc:  # reported to the caller's thread
            error = exc
        outcome.append(None if error is None else f"{type(error).__name__}: {error}".strip())

    thread = threading.Thread(target=work, daemon=True, name="plato-warm-up")  # daemon: a hung server never blocks exit
    thread.start()
    thread.join(timeout)
    return outcome[0] if outcome else f"no answer within {timeout:g} s"


_WARM_UP_PROGRAM = None


def _warm_up_program() -> Any:
    """The warm-up ``@sgl.function`` (made on first use: SGLang imports torch). Plain text, no chat
    template: the grammar cache is keyed by the regex alone, whatever the prompt."""
    global _WARM_UP_PROGRAM
    if _WARM_UP_PROGRAM is None:
        import sglang as sgl

        @sgl.function
        def grammar_warm_up(s, regex: str):
            s += "1"
            s += sgl.gen("warm_up", regex=regex, max_tokens=1, temperature=0.0)

        _WARM_UP_PROGRAM = grammar_warm_up
    return _WARM_UP_PROGRAM


def _purpose(regex: str, number: int, count: int) -> str:
    """What a warm-up regex is for, in words: a plan grammar (it opens with the plan's first literal,
    ``Parts:`` or ``1.``) is named so, others by their number and first characters."""
    from plato_sgl import grammar

    where = f"warm-up grammar {number} of {count}"
    g = grammar.load_plan_grammar()
    openings = [grammar.literal_regex(g.size_prefix), grammar.literal_regex("1" + g.id_separator)]
    if any(regex.startswith(opening) for opening in openings):
        return f"the plan grammar ({where}, {len(regex)} characters)"
    shown = regex if len(regex) <= 60 else regex[:57] + "..."
    return f"{where} (regex {shown!r})"


ABORT_TIMEOUT = 5.0  # seconds for one /abort_request (a frozen server never answers)


def abort_requests(url: str, rids: Sequence[str], api_key: str | None = None) -> None:
    """``POST /abort_request`` for each request id, on every worker behind ``url`` (sglang-router has
    no ``/abort_request``, and only the worker that got a request can abort it; a worker that never
    saw an id ignores it). Best effort: a dead or frozen server is not an error here (it is decoding
    nothing, or it will fail the requests itself)."""
    import requests

    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    try:
        targets = worker_urls(url, timeout=ABORT_TIMEOUT)
    except ServerError:
        targets = [url]
    for target in targets:
        for rid in rids:
            try:
                requests.post(f"{target}/abort_request", json={"rid": rid}, headers=headers, timeout=ABORT_TIMEOUT)
            except requests.RequestException:
                break  # this worker is gone or frozen: on to the next


# ---------------------------------------------------------------- several workers behind sglang-router

# URLs known to be plain SGLang servers (they answered 404 to /workers): asked once, not per abort.
_PLAIN_SERVERS: set[str] = set()


def worker_urls(url: str, timeout: float = 10.0) -> list[str]:
    """The SGLang servers that requests sent to ``url`` run on: the workers an sglang-router at
    ``url`` routes to (its ``GET /workers``, healthy or not: a request may still be on one that just
    failed), or ``[url]`` for a plain SGLang server (which answers 404 there).

    The router proxies ``/generate``, ``/flush_cache``, ``/get_model_info``, ``/v1/models``,
    ``/health`` and the OpenAI routes, but not ``/abort_request``, ``/model_info``, ``/tokenize``,
    ``/server_info`` or ``/v1/loads`` (sglang-router 0.3.2, tried): those go to the workers.
    Raises ServerError when nothing answers at ``url``.
    """
    url = url.rstrip("/")
    if url in _PLAIN_SERVERS:
        return [url]
    response = _request("GET", url, "/workers", timeout=timeout)
    workers = _router_workers(response)
    if workers is None:
        _PLAIN_SERVERS.add(url)
        return [url]
    return [w["url"].rstrip("/") for w in workers]


def is_router(url: str, timeout: float = 10.0) -> bool:
    """Whether ``url`` is an sglang-router (several workers) rather than one SGLang server."""
    return worker_urls(url, timeout) != [url.rstrip("/")]


def _router_workers(response: Any) -> list[dict[str, Any]] | None:
    """The worker records of a router's ``/workers`` answer, or None if it is not one."""
    if response.status_code != 200:
        return None
    try:
        workers = response.json().get("workers")
    except (ValueError, AttributeError):
        return None
    if not isinstance(workers, list) or not all(isinstance(w, dict) and "url" in w for w in workers):
        return None
    return workers


def server_args(url: str, timeout: float = 10.0) -> dict[str, Any]:
    """The server's arguments and state (``/server_info``; for a router, its first worker's): the
    device, whether priority scheduling is on, ..."""
    worker = worker_urls(url, timeout)[0]
    response = _request("GET", worker, "/server_info", timeout=timeout)
    if response.status_code != 200:
        raise ServerError(
            f"the server at {worker} answered HTTP {response.status_code} to /server_info: {_body(response)}"
        )
    return response.json()


def priority_levels(args: dict[str, Any]) -> tuple[int, int] | None:
    """The ``priority`` values to send with requests that should go first and with the rest, on a
    server with these arguments (``/server_info``); None when its priority scheduling is off.

    SGLang schedules larger values first unless ``--schedule-low-priority-values-first``; a request
    without a priority is put last of all, so every request of a question carries one. A server
    whose priority scheduling is off may abort requests that carry one
    (``--abort-on-priority-when-disabled``), so then none is sent.
    """
    if not args.get("enable_priority_scheduling"):
        return None
    return (0, 1) if args.get("schedule_low_priority_values_first") else (1, 0)


def server_health(url: str, timeout: float = 10.0) -> None:
    """Raise ServerError unless the SGLang server at ``url`` answers ``/health`` with 200."""
    response = _request("GET", url, "/health", timeout=timeout)
    if response.status_code != 200:
        raise ServerError(
            f"the SGLang server at {url} is not healthy: HTTP {response.status_code} to /health: {_body(response)}"
        )


def server_load(url: str, timeout: float = 10.0) -> dict[str, Any]:
    """The server's load from ``/v1/loads`` (first data-parallel rank): ``num_running_reqs``,
    ``num_waiting_reqs``, token usage... (for a router: its first worker's; see :func:`server_loads`)."""
    return server_loads(url, timeout)[0]


def server_loads(url: str, timeout: float = 10.0) -> list[dict[str, Any]]:
    """The load of every worker behind ``url`` (one for a plain server), each from its ``/v1/loads``
    (first data-parallel rank), with its ``url`` added. A router has no ``/v1/loads`` of its own."""
    loads = []
    for worker in worker_urls(url, timeout):
        response = _request("GET", worker, "/v1/loads?include=core", timeout=timeout)
        if response.status_code != 200:
            raise ServerError(
                f"the server at {worker} answered HTTP {response.status_code} to /v1/loads: {_body(response)}"
            )
        loads.append({**(response.json().get("loads") or [{}])[0], "url": worker})
    return loads


def queued_requests(url: str, timeout: float = 2.0, besides: int = 0) -> float | None:
    """Requests running or waiting per worker behind ``url``, right now (one cheap ``/v1/loads``
    each), ``besides`` of them left out (a caller's own), or None when it cannot be read (an older
    server, an unreachable worker)."""
    try:
        loads = server_loads(url, timeout)
    except ServerError:
        return None
    total = sum(int(w.get("num_running_reqs", 0)) + int(w.get("num_waiting_reqs", 0)) for w in loads)
    return max(0, total - besides) / len(loads)


def _connection_cause(exc: Exception) -> str:
    text = str(exc)
    if "Connection refused" in text:
        return "connection refused (nothing is listening on that port; is the server running?)"
    if "Name or service not known" in text or "getaddrinfo" in text or "resolve" in text:
        return "the host name could not be resolved"
    if "No route to host" in text or "Network is unreachable" in text:
        return "the host is unreachable"
    return "the connection failed"
