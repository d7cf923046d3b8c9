"""Which of SGLang's chat templates renders a served model's prompts as the server itself would.

SGLang's frontend renders ``sgl.system/user/assistant`` with one of its
own chat templates (``sglang.lang.chat_template``: ``chatml``, ``llama-3-instruct``, ``mistral``,
...), chosen by the client, while the server knows the model's real template. A wrong choice is
silent: the model just gets prompts in a format it was not trained on. :func:`detect_chat_template`
therefore renders a probe conversation (system + user + the assistant's turn opened) with each
candidate template, asks the server to tokenize that text and to tokenize the same conversation
with its own chat template (``/tokenize``), and takes the first candidate whose token ids are
identical. Candidates are the templates SGLang's own matching functions pick from the model's
name and path, then every registered template. Servers without ``/tokenize`` are compared by
token counts instead (``/v1/chat/completions`` ``usage.prompt_tokens`` against ``/generate``'s
``prompt_tokens``), a weaker check. No match is a :class:`~plato_sgl.core.errors.ServerError` that
names the model and how to choose a template.
"""

from __future__ import annotations

from typing import Any, Iterable, Sequence

from plato_sgl.core.errors import ServerError
from plato_sgl.engine.http import detokenize, request, response_text, server_model_info

# SGLang's frontend is imported inside the functions that use it, deferred on purpose: it imports torch
# (seconds), and the command line and `connect` load this module before any backend is made.

# The conversation the chat template probe renders: the shape of every plato-sgl prompt (a system
# message, a user message, then the assistant's turn opened for generation).
PROBE_MESSAGES: tuple[dict[str, str], ...] = (
    {"role": "system", "content": "You are a careful assistant. Answer in one sentence."},
    {"role": "user", "content": "Which planet is closest to the sun, and how long is its year?"},
)


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
        served = tokenize(url, {"messages": list(PROBE_MESSAGES)}, model, timeout, missing_ok=via is None)
        via = "counts" if served is None else "tokenize"
    if via == "tokenize":
        rendered = tokenize(url, {"prompt": texts}, model, timeout)
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
        text = detokenize(url, served)
        if text is not None:
            seen = f" The server's own chat template writes a system + user conversation as {text!r}."
    return (
        f"the chat template of model {model!r} at {url} matches none of SGLang's {tried} chat templates "
        f"(compared by {compared} of a system + user conversation), so plato-sgl cannot render its "
        f"prompts correctly.{seen} If one of SGLang's templates is right for this model, choose it "
        f"explicitly: connect(url, chat_template=NAME), open_backend(url=..., chat_template=NAME) or "
        f"--chat-template NAME on the command line (NAME one of: {', '.join(chat_template_names())})."
    )


def _chat_prompt_tokens(url: str, model: str, timeout: float) -> int:
    payload = {"model": model, "messages": list(PROBE_MESSAGES), "max_tokens": 1, "temperature": 0}
    response = request("POST", url, "/v1/chat/completions", json=payload, timeout=timeout)
    if response.status_code != 200:
        raise cannot_render(url, model, "/v1/chat/completions", response)
    return response.json()["usage"]["prompt_tokens"]


def _generate_prompt_tokens(url: str, texts: list[str], model: str, timeout: float) -> list[int]:
    payload = {"text": texts, "sampling_params": {"max_new_tokens": 0}}
    response = request("POST", url, "/generate", json=payload, timeout=timeout)
    if response.status_code != 200:
        raise ServerError(
            f"the server at {url} refused the chat template probe on /generate: {response_text(response)}"
        )
    return [item["meta_info"]["prompt_tokens"] for item in response.json()]


def tokenize(url: str, payload: dict[str, Any], model: str, timeout: float, missing_ok: bool = False) -> Any:
    """``/tokenize``'s token ids: one list for ``messages`` (the server's own chat template with a
    generation prompt, as for a chat completion), a list per text for ``prompt`` (encoded as
    ``/generate`` encodes the frontend's text: special tokens such as a BOS added). None, with
    ``missing_ok``, from a server without ``/tokenize`` (it answers 404)."""
    response = request("POST", url, "/tokenize", json=payload, timeout=timeout)
    if missing_ok and response.status_code in (404, 405):
        return None
    if response.status_code != 200:
        raise cannot_render(url, model, "/tokenize", response)
    return response.json()["tokens"]


def cannot_render(url: str, model: str, path: str, response: Any) -> ServerError:
    return ServerError(
        f"the server at {url} could not render a chat with model {model!r}'s own chat template "
        f"({path} answered HTTP {response.status_code}: {response_text(response)}), so its chat template "
        "cannot be detected. Choose one of SGLang's explicitly: connect(url, chat_template=NAME) or "
        f"--chat-template NAME on the command line (NAME one of: {', '.join(chat_template_names())})."
    )
