"""Attach SGLang's frontend to a running server: the served model's chat template, the server's
priority levels, and a warm-up of grammars and static prompt text."""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

from plato_sgl.core import grammar
from plato_sgl.core.errors import PlatoError, ServerError
from plato_sgl.core.threads import TimedOut, call_with_timeout
from plato_sgl.engine.chat_template import check_chat_template_name, detect_chat_template
from plato_sgl.engine.http import priority_levels, server_args, server_model_info, worker_urls

if TYPE_CHECKING:
    import sglang as sgl

    from plato_sgl.engine.warmup import Opening


def connect(
    url: str,
    *,
    chat_template: str | None = None,
    timeout: float = 30.0,
    warm_up: bool = True,
    openings: Sequence[Opening] = (),
) -> sgl.RuntimeEndpoint:
    """Attach the SGLang frontend to a running server at ``url``.

    ``chat_template`` names the SGLang chat template the frontend renders prompts with. None (the
    default) detects it: the template whose rendering of a probe conversation the server tokenizes
    exactly as the same conversation under the served model's own chat template
    (:func:`plato_sgl.engine.chat_template.detect_chat_template`). A name is used as given, unchecked against
    the model. Raises ServerError, in plain words, when nothing answers at ``url`` or when no
    SGLang template matches the model (the message names the model and how to choose one), and
    ValueError for a template name SGLang does not have. ``timeout`` is per request, in seconds.

    ``warm_up`` (the default) then has the server compile the grammars a default Plato run decodes
    with (:func:`plato_sgl.core.grammar.warm_up_regexes`, one one-token request each, see
    :func:`plato_sgl.engine.warmup.warm_up`), so the first question does not wait for xgrammar's first
    compile; a grammar the server cannot compile is a ServerError naming it. With ``warm_up``, every
    worker also caches the static prompt text of ``openings`` (:func:`plato_sgl.engine.warmup.warm_up_prompts`),
    so the first question prefills only its own text.
    """
    url = url.rstrip("/")
    # An sglang-router lacks /model_info and /tokenize: the chat template is detected on a worker.
    workers = worker_urls(url, timeout)  # also the reachability check, before SGLang loads
    info = server_model_info(workers[0], timeout)
    if chat_template is None:
        chat_template = detect_chat_template(workers[0], timeout=timeout, info=info)
    else:
        check_chat_template_name(chat_template)
    import sglang as sgl  # deferred, as is the warm-up: SGLang imports torch, seconds

    from plato_sgl.engine.warmup import warm_up_prompts, warm_up_workers, worker_endpoints

    endpoint = sgl.RuntimeEndpoint(url, chat_template_name=chat_template)
    # Plan requests go first where the server schedules by priority (plato_sgl.engine.endpoint adds the field).
    try:
        endpoint.plato_priorities = priority_levels(server_args(workers[0], timeout))
    except ServerError:  # a server without /server_info: send no priority
        endpoint.plato_priorities = None
    if warm_up:
        warm_up_workers(endpoint, grammar.warm_up_regexes(), timeout=timeout)
        for worker, target in worker_endpoints(endpoint, timeout) if openings else []:
            try:
                for opening in openings:  # ``timeout`` is per request
                    call_with_timeout("plato-prompt-warm-up", timeout, warm_up_prompts, target, [opening])
            except (TimedOut, PlatoError) as exc:
                raise ServerError(
                    f"the prompt warm-up on the SGLang server at {worker} failed: {exc}. "
                    "connect(url, warm_up=False) skips the warm-up."
                ) from exc
    return endpoint
