"""Records of one answered question, shared by every method so reports treat them alike.

Times are seconds relative to the start of the question (``time.perf_counter`` based).
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import Any, Mapping


class Clock:
    """Seconds since construction; one per question so every recorded time shares its origin."""

    def __init__(self) -> None:
        self._t0 = time.perf_counter()

    def now(self) -> float:
        return time.perf_counter() - self._t0


@dataclass(kw_only=True)
class Tokens:
    """Token counts of one request, as the server reports them."""

    prompt_tokens: int = 0
    cached_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str | None = None  # SGLang's: "stop" (EOS, stop string, grammar end), "length" (the cap), "abort"

    def record_meta(self, meta: Mapping[str, Any] | None) -> None:
        """Copy token counts and why the request ended from SGLang's ``meta_info``."""
        meta = meta or {}
        self.prompt_tokens = int(meta.get("prompt_tokens") or 0)
        self.cached_tokens = int(meta.get("cached_tokens") or 0)
        self.completion_tokens = int(meta.get("completion_tokens") or 0)
        reason = meta.get("finish_reason")
        self.finish_reason = reason.get("type") if isinstance(reason, Mapping) else reason


@dataclass
class Call(Tokens):
    """A request that is not a plan node: the plan, a context prefill, a plain answer..."""

    kind: str
    started_at: float | None = None
    first_token_at: float | None = None  # its first output token arrived (streamed requests)
    finished_at: float | None = None
    stopped: bool = (
        False  # the client aborted it on purpose, its text no longer needed (a plan that chose a plain answer)
    )


@dataclass
class NodeRecord(Tokens):
    """A sub-task of the plan and what happened to it.

    ``parsed_at``: its plan line was complete; ``dispatched_at``: the scheduler forked it;
    ``started_at``: its first output token arrived (prefill done); ``finished_at``: decoding ended.
    ``context_ids``: the finished nodes whose results were in its prompt, in prompt order.
    """

    id: int
    description: str
    deps: tuple[int, ...] = ()
    result: str = ""
    parsed_at: float | None = None
    dispatched_at: float | None = None
    started_at: float | None = None
    finished_at: float | None = None
    context_ids: tuple[int, ...] = ()

    @property
    def finished(self) -> bool:
        return self.finished_at is not None


@dataclass
class Result:
    """The answer to one question by one method, with everything needed to measure it."""

    question: str
    method: str
    answer: str = ""
    plan: str = ""
    nodes: list[NodeRecord] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)  # every request that is not a node
    plan_first_token_at: float | None = None
    plan_done_at: float | None = None
    wall_time: float = 0.0
    critical_path: int = 0
    parallel_degree: float = 0.0
    repairs: list[str] = field(default_factory=list)
    fallback: str | None = None
    error: str | None = None
    plan_size: int | None = None  # the plan's size decision (sized plans)
    route: str | None = None  # auto: "plato" or "plain", the path taken
    route_reason: str | None = None  # auto: why that path
    options: dict[str, Any] = field(default_factory=dict)

    def _requests(self) -> list[Tokens]:
        return [*self.calls, *self.nodes]

    @property
    def prompt_tokens(self) -> int:
        return sum(r.prompt_tokens for r in self._requests())

    @property
    def cached_tokens(self) -> int:
        return sum(r.cached_tokens for r in self._requests())

    @property
    def completion_tokens(self) -> int:
        return sum(r.completion_tokens for r in self._requests())

    @property
    def throughput(self) -> float:
        """Generated tokens per second of wall time (paper §5.1)."""
        return self.completion_tokens / self.wall_time if self.wall_time > 0 else 0.0

    @property
    def ok(self) -> bool:
        """Answered in full: no error, and no request cut short by an abort (a Result saved before
        aborts were failures may have one with no error)."""
        return self.error is None and not self.aborted()

    def aborted(self) -> list[str]:
        """The requests the server ended with ``abort`` (the question was cancelled, or the server
        dropped the request): their text stops short, so an answer holding it is not finished.
        A request the question itself stopped because it no longer needed it is not among them."""
        return [c.kind for c in self.calls if c.finish_reason == "abort" and not c.stopped] + [
            f"node {n.id}" for n in self.nodes if n.finish_reason == "abort"
        ]

    def node(self, node_id: int) -> NodeRecord:
        for n in self.nodes:
            if n.id == node_id:
                return n
        raise KeyError(f"no node {node_id} in this result")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict: the fields plus the derived totals (for reading, not needed to load)."""
        data = dataclasses.asdict(self)
        data.update(
            prompt_tokens=self.prompt_tokens,
            cached_tokens=self.cached_tokens,
            completion_tokens=self.completion_tokens,
            throughput=self.throughput,
        )
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Result":
        """Inverse of ``to_dict`` (derived totals are ignored)."""
        names = {f.name for f in dataclasses.fields(cls)}
        kwargs = {k: v for k, v in data.items() if k in names}
        kwargs["nodes"] = [
            NodeRecord(**{**n, "deps": tuple(n.get("deps", ())), "context_ids": tuple(n.get("context_ids", ()))})
            for n in data.get("nodes", [])
        ]
        kwargs["calls"] = [Call(**c) for c in data.get("calls", [])]
        return cls(**kwargs)
