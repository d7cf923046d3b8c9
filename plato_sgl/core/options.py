"""Options shared by every method, validated before any request is sent.

One dataclass for all methods keeps the CLI, `run` and the benchmark harness uniform: a method reads
the fields it needs and ignores the rest (e.g. `ar` ignores `max_nodes`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable, Literal

from plato_sgl.core.checks import check_number, positive
from plato_sgl.core.question_kind import is_math_problem, is_programming_task

CONTEXT_MODES = ("global", "deps")
NODE_PROMPTS = ("question-first", "rules-first")
PREFIX_PREFILLS = ("at-start", "on-parts")


def structure_sampling() -> dict[str, Any]:
    """``gen`` arguments of a structural request (a plan, a skeleton): the answer's stop strings
    would cut it, and a repetition penalty would fight its regex, which repeats line numbers by
    design. A new dict each time: SGLang's interpreter appends the chat template's stop string to
    the ``stop`` list it is given, in place."""
    return {"stop": [], "frequency_penalty": 0.0, "presence_penalty": 0.0}


ROLES = ("user", "assistant")

# The default frequency penalty of prose answers (``Options.frequency_penalty`` None).
PROSE_FREQUENCY_PENALTY = 0.5


def conversation_turns(history: Any) -> tuple[tuple[str, str], ...]:
    """``history`` as (role, text) pairs, checked: a sequence of pairs or of OpenAI-style
    ``{"role": ..., "content": ...}`` messages, alternating user and assistant, from a user turn
    to an assistant turn (the question is the next user turn). Raises ValueError naming the problem."""
    if isinstance(history, (str, bytes)) or not isinstance(history, (list, tuple)):
        raise ValueError(f"option history must be a list of (role, text) turns, got {type(history).__name__}")
    turns = []
    for number, turn in enumerate(history, start=1):
        if isinstance(turn, dict):
            turn = (turn.get("role"), turn.get("content"))
        if not isinstance(turn, (list, tuple)) or len(turn) != 2:
            raise ValueError(
                f"history turn {number} must be a (role, text) pair or a {{'role', 'content'}} message, got {turn!r}"
            )
        role, text = turn
        expected = ROLES[(number - 1) % 2]
        if role != expected:
            raise ValueError(
                f"history turn {number} must be the {expected}'s (turns alternate, from user to assistant), got {role!r}"
            )
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"history turn {number} ({role}) must be non-empty text, got {text!r}")
        turns.append((role, text))
    if turns and turns[-1][0] != "assistant":
        raise ValueError("history must end with the assistant's turn: the question is the next user turn")
    return tuple(turns)


_TOKEN_COUNTS = ("max_nodes", "plan_max_tokens", "node_max_tokens", "answer_max_tokens", "max_tokens")

# (option, what it must be, its range, "integer" or "number", whether None is allowed)
_NUMBERS: tuple[tuple[str, str, Callable[[Any], bool], str, bool], ...] = (
    *((name, "a positive integer", positive, "integer", False) for name in _TOKEN_COUNTS),
    ("temperature", "a number from 0 to 2", lambda v: 0 <= v <= 2, "number", False),
    ("top_p", "a number above 0 and at most 1", lambda v: 0 < v <= 1, "number", False),
    ("top_k", "-1 (no limit) or a positive integer", lambda v: v == -1 or v >= 1, "integer", False),
    ("frequency_penalty", "a number from -2 to 2, or None (by question)", lambda v: -2 <= v <= 2, "number", True),
    ("presence_penalty", "a number from -2 to 2", lambda v: -2 <= v <= 2, "number", False),
    ("seed", "a 64-bit integer or None", lambda v: -(2**63) <= v < 2**63, "integer", True),
    ("node_sentences", "an integer from 0 (free text) to 20", lambda v: 0 <= v <= 20, "integer", False),
    ("sentence_tokens", "an integer from 1 to 1000 tokens, or None", lambda v: 1 <= v <= 1000, "integer", True),
    ("description_max", "an integer from 1 to 1000 characters", lambda v: 1 <= v <= 1000, "integer", True),
    ("streaming_cap", "a positive integer or None", positive, "integer", True),
    ("timeout", "a positive number of seconds", lambda v: v > 0, "number", True),
    ("auto_max_load", "a number of requests of at least 0, or None", lambda v: v >= 0, "number", True),
)


@dataclass(frozen=True)
class Options:
    """How a question is answered.

    The Plato fields mirror the paper's ablations: ``pipeline`` (dispatch nodes while the plan is
    still streaming, §4.2.1) and ``context`` ("global": every finished result in finish order, the
    cache-friendly layout of §4.2.2; "deps": only the node's own dependencies).

    Prefill: ``node_prompt`` "rules-first" (the default) puts the node rules before the question,
    so every question reuses them cached ("question-first": the question, then the rules);
    ``prefix_prefill`` "on-parts" prefills the node prompt's prefix once the plan has decided on
    parts side by side, so a question answered plainly never sends it ("at-start", the default:
    at the question's start, beside the plan).

    Length: ``sized`` plans open with a size decision (``Parts: k``, then k lines, k <=
    ``max_nodes``); ``description_max`` bounds a plan line (None: the grammar's bound);
    ``node_sentences`` bounds each node to that many sentences or code blocks under a regex (0:
    free text); ``answer_max_tokens`` is split evenly over a sized plan's nodes, each capped at
    ``node_max_tokens``; ``sentence_tokens``: the tokens a node's share must hold per sentence it
    may write, so the more parts a plan has, the fewer sentences each writes: the whole answer
    stays near a plain answer's length, and a node ends at a sentence instead of at its cap
    (None: always ``node_sentences``).

    Sampling: ``temperature``, ``top_p``, ``top_k`` apply to every request; ``stop`` strings end
    the answer text (plain answers, nodes, expansions), never a plan or a skeleton, and so do
    ``frequency_penalty`` and ``presence_penalty`` (SGLang's, from -2 to 2 as in OpenAI's API: a
    positive value discourages a request from repeating its own output, which breaks the loops a
    small model falls into under greedy decoding). ``frequency_penalty`` None (the default) is
    ``PROSE_FREQUENCY_PENALTY`` for prose and 0 for the answer to a programming task or a math
    problem, whose code and numbers repeat by design (``answer_frequency_penalty``); a number
    applies to every answer. docs/options.md says how both defaults were chosen. ``seed``
    goes with every request as SGLang's ``sampling_seed``, which a server applies when it was
    started with ``--enable-deterministic-inference`` (others accept it and sample as usual).

    ``history``: the conversation before the question, (role, text) turns alternating from
    "user" to "assistant" and ending with the assistant's; every prompt of every method (plan,
    nodes, plain answer...) starts with it, after the system prompt, so a follow-up question is
    answered in its context and the turns are one cached prefix.

    ``auto_max_load`` (``auto`` only): the most requests per server worker, running or waiting, at
    which ``auto`` still plans; above it (read from the server before the question starts) it
    answers plainly, since a busy server already batches (None: the load is not read).
    """

    max_nodes: int = 6
    plan_max_tokens: int = 512
    node_max_tokens: int = 256
    answer_max_tokens: int = 768
    max_tokens: int = 1024
    sized: bool = True
    description_max: int | None = None
    node_sentences: int = 5
    sentence_tokens: int | None = 64
    temperature: float = 0.0
    top_p: float = 1.0
    top_k: int = -1
    stop: tuple[str, ...] = ()
    frequency_penalty: float | None = None
    presence_penalty: float = 0.0
    seed: int | None = None
    history: tuple[tuple[str, str], ...] = ()
    pipeline: bool = True
    streaming_cap: int | None = None
    context: Literal["global", "deps"] = "global"
    node_prompt: Literal["question-first", "rules-first"] = "rules-first"
    prefix_prefill: Literal["at-start", "on-parts"] = "at-start"
    plan_regex: str | None = None
    ignore_eos: bool = False
    timeout: float | None = None
    auto_max_load: float | None = None

    def __post_init__(self) -> None:
        for name, words, valid, kind, optional in _NUMBERS:
            check_number(f"option {name}", getattr(self, name), words, valid, kind=kind, optional=optional)
        stop = (self.stop,) if isinstance(self.stop, str) else self.stop
        if not isinstance(stop, (tuple, list)) or not all(isinstance(x, str) and x for x in stop):
            raise ValueError(f"option stop must be a string or a list of non-empty strings, got {self.stop!r}")
        object.__setattr__(self, "stop", tuple(stop))  # frozen; a list or one string is accepted as given
        object.__setattr__(self, "history", conversation_turns(self.history))
        for name, choices in (
            ("context", CONTEXT_MODES),
            ("node_prompt", NODE_PROMPTS),
            ("prefix_prefill", PREFIX_PREFILLS),
        ):
            if getattr(self, name) not in choices:
                raise ValueError(f"option {name} must be one of {', '.join(choices)}, got {getattr(self, name)!r}")
        if not all(isinstance(getattr(self, name), bool) for name in ("pipeline", "ignore_eos", "sized")):
            raise ValueError("options pipeline, ignore_eos and sized must be True or False")
        if self.plan_regex is not None and (not isinstance(self.plan_regex, str) or not self.plan_regex):
            raise ValueError("option plan_regex must be a non-empty string (an empty regex can hang the server)")

    @classmethod
    def from_kwargs(cls, **kwargs: Any) -> "Options":
        """Build options from keyword arguments, naming any unknown option."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(kwargs) - known)
        if unknown:
            raise ValueError(f"unknown option(s): {', '.join(unknown)}; known options: {', '.join(sorted(known))}")
        return cls(**kwargs)

    def answer_frequency_penalty(self, question: str) -> float:
        """The frequency penalty of ``question``'s answer text: ``frequency_penalty`` when given; by
        default ``PROSE_FREQUENCY_PENALTY``, or 0 for a programming task or a math problem."""
        if self.frequency_penalty is not None:
            return self.frequency_penalty
        return 0.0 if is_programming_task(question) or is_math_problem(question) else PROSE_FREQUENCY_PENALTY

    def sampling(self, question: str) -> dict[str, Any]:
        """Sampling settings of ``question``'s requests as ``SglFunction.run`` defaults, which every
        ``gen`` of a program and its forks inherit. ``stop`` and the penalties shape answer text;
        plan and skeleton requests override them (``structure_sampling``)."""
        return {
            "temperature": self.temperature,
            "top_p": self.top_p,
            "top_k": self.top_k,
            "stop": list(self.stop) or None,
            "frequency_penalty": self.answer_frequency_penalty(question),
            "presence_penalty": self.presence_penalty,
        }

    def plain_budget(self) -> "Options":
        """These options for a plain answer given in Plato's place (a one-part plan, ``auto``'s
        plain path): the answer budget caps it as it caps a plan's nodes. ``ar`` keeps ``max_tokens``."""
        return dataclasses.replace(self, max_tokens=min(self.max_tokens, self.answer_max_tokens))

    def to_dict(self, question: str) -> dict[str, Any]:
        """These options as ``question``'s Result records them: the ``frequency_penalty`` is the one
        its answer text is sent with, so a default of None reads as the number applied."""
        return dataclasses.asdict(self) | {"frequency_penalty": self.answer_frequency_penalty(question)}


# The smallest share of the answer budget a node gets, in tokens, however many parts the plan has.
MIN_NODE_TOKENS = 32


def node_budget(options: Options, size: int | None) -> int:
    """Tokens one node may write: the answer budget split over the plan's decided size, within
    [MIN_NODE_TOKENS, node_max_tokens]; without a size decision, node_max_tokens."""
    if not size:
        return options.node_max_tokens
    return max(
        min(MIN_NODE_TOKENS, options.node_max_tokens), min(options.node_max_tokens, options.answer_max_tokens // size)
    )


def node_sentence_count(options: Options, size: int | None) -> int:
    """Sentences one node may write: ``node_sentences``, fewer when its token share holds fewer at
    ``sentence_tokens`` each (never below the node grammar's 2), so that it ends at a sentence."""
    if options.sentence_tokens is None:
        return options.node_sentences
    fits = node_budget(options, size) // options.sentence_tokens
    return max(min(2, options.node_sentences), min(options.node_sentences, fits))
