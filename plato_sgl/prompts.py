"""Prompt texts: the project's own wording of the structure and rules in the Plato paper (appendix B).

Node prompts are built from parts whose order matters for prefix caching (§4.2.2):
(1) the question, (2) instructions, (3) the global context, i.e. finished results appended in finish
order, (4) the node's own sub-task. Parts (1)-(3) only ever grow at the end, so each finished result
is prefilled once and every later node reuses the whole prefix.
"""

from __future__ import annotations

from typing import Iterable

ASSISTANT_SYSTEM = "You are a helpful, knowledgeable assistant."

PLAN_SYSTEM = """\
Break the user's problem into sub-tasks that a team can work on at the same time, and say which \
sub-tasks need the results of which earlier ones. Write one sub-task per line, exactly like this:
<id>. <description>.[<ids of the earlier sub-tasks it needs>]

Guidelines:
- Short: each description is one short imperative phrase without periods (e.g. "List the risks", "Estimate the cost").
- Dependencies: list only the earlier sub-tasks whose results this one really needs; write [] when it needs none.
- Parallel: prefer many independent sub-tasks and a short longest chain of dependencies.
- Complete: cover the relevant aspects of the problem, without overlaps or fragments.
- Order: order the lines so that the results, read in order, form one answer that flows.
- Finish: end with one sub-task that pulls the results together into a brief final answer.

Example.
Problem: How can a small town reduce traffic congestion?
Plan:
1. Identify the main causes of congestion in a small town.[]
2. Describe improvements to public transport.[]
3. Describe measures that encourage cycling and walking.[]
4. Describe parking and road pricing policies.[]
5. Weigh the costs and trade-offs of these measures.[2,3,4]
6. Recommend a short action plan for the town.[1,5]
Sub-tasks 1 to 4 run in parallel; 5 waits for 2, 3 and 4; 6 comes last."""

NODE_RULES = """\
You are one member of a team; you solve one sub-task of a larger plan. Rules:
- Concise: answer in one to three sentences when you can.
- Substantive: give the key facts, reasoning, numbers or examples.
- Consistent: build on the previous results and keep to the question.
Previous results:
"""

COT_INSTRUCTION = "Think step by step, then state the final answer."


def node_preamble(question: str) -> str:
    """Parts (1) and (2) of a node prompt: the question, then the rules (ends before any result)."""
    return f"Your team is answering this question: {question}\n{NODE_RULES}"


def context_entry(description: str, result: str) -> str:
    """One finished node in part (3), the global context."""
    return f"- {description}: {result.strip()}\n"


def node_task(description: str) -> str:
    """Part (4): the node's own sub-task, the only part that differs between sibling nodes."""
    return f"Your sub-task: {description}. Answer it directly."


def compose_answer(sections: Iterable[tuple[str, str]]) -> str:
    """One readable answer from (description, result) pairs in plan order."""
    return "\n\n".join(f"**{description}**\n{result.strip()}" for description, result in sections)
