"""SGLang's frontend against a real server: regex, fork + prefix cache, chat template, streaming."""

from __future__ import annotations

import time
import uuid

import pytest
import regex
import sglang as sgl
from transformers import AutoTokenizer

from plato_sgl.engine import programs

SYSTEM = "You are a helpful assistant. Answer in short, clear sentences."


def run_ok(program, backend, **kwargs):
    """Run an sgl program and fail the test with the worker's exception if it had one."""
    state = program.run(backend=backend, **kwargs)
    state.sync()
    assert state.error() is None, state.error()
    return state


@sgl.function
def constrained(s, question, pattern):
    s += sgl.system(SYSTEM)
    s += sgl.user(question)
    s += sgl.assistant(sgl.gen("answer", max_tokens=64, regex=pattern, temperature=1.0))


# Bounded patterns: each token adds at least one character, so 64 tokens always finish them.
PATTERNS = [
    r"(yes|no)",
    r"[0-9]{1,3}-[0-9]{2}",
    r"[a-z]{1,8}( [a-z]{1,8}){0,3}\.",
    r"\[(0|[1-9][0-9]?)(, (0|[1-9][0-9]?)){0,3}\]",
]


@pytest.mark.parametrize("pattern", PATTERNS)
def test_regex_constrained_gen_matches(backend, pattern):
    states = constrained.run_batch(
        [{"question": f"Question {i}: give an answer.", "pattern": pattern} for i in range(3)],
        backend=backend,
    )
    for state in states:
        assert state.error() is None, state.error()
        assert regex.fullmatch(pattern, state["answer"]), (pattern, state["answer"])


@sgl.function
def shared_prefix_then_fork(s, context, branches):
    s += sgl.system(SYSTEM)
    s += sgl.user(context)
    s.text()  # sync first: fork(n) only sends the shared prefix once when the text is synced
    forks = s.fork(branches)
    for i, branch in enumerate(forks):
        branch += f"Part {i + 1}:"
        branch += sgl.gen("part", max_tokens=8)
    forks.join()
    return [branch.get_meta_info("part") for branch in forks]


def test_fork_reuses_the_shared_prefix(backend):
    nonce = uuid.uuid4().hex  # a prefix the radix cache has never seen
    context = f"Session {nonce}. " + "Plan the answer in parts, then write each part. " * 12
    state = run_ok(shared_prefix_then_fork, backend, context=context, branches=3)
    metas = state.ret_value
    assert len(metas) == 3
    for meta in metas:
        assert meta["prompt_tokens"] > 100
        # Only the branch's own few tokens ("Part i:" and the turn boundary) are new.
        assert meta["cached_tokens"] >= meta["prompt_tokens"] - 8, meta


@sgl.function
def chat(s, messages, max_tokens):
    for message in messages:
        s += getattr(sgl, message["role"])(message["content"])
    s += sgl.assistant(sgl.gen("reply", max_tokens=max_tokens, temperature=0))


CONVERSATIONS = [
    [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "What is the capital of France?"}],
    [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Name a colour."},
        {"role": "assistant", "content": "Blue."},
        {"role": "user", "content": "Another one, please."},
    ],
]


def assert_prompt_matches_tokenizer_template(server, backend, messages):
    """The text the frontend sent equals the model tokenizer's own chat template output."""
    tokenizer = AutoTokenizer.from_pretrained(server.model_dir)
    expected = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    state = run_ok(chat, backend, messages=messages, max_tokens=4)
    sent = state.text()[: -len(state["reply"] + "<|im_end|>\n")]
    assert sent == expected
    # and the server tokenized exactly that text (no BOS added, no template applied twice)
    assert state.get_meta_info("reply")["prompt_tokens"] == len(tokenizer(expected).input_ids)


@pytest.mark.parametrize("messages", CONVERSATIONS, ids=["system-user", "multi-turn"])
def test_chat_template_matches_the_tokenizer(tiny_server, backend, messages):
    assert_prompt_matches_tokenizer_template(tiny_server, backend, messages)


@sgl.function
def long_answer(s, question):
    s += sgl.system(SYSTEM)
    s += sgl.user(question)
    s += sgl.assistant(sgl.gen("answer", max_tokens=64, ignore_eos=True))


@pytest.mark.parametrize("reading", [0.0, 0.2])
def test_streaming_yields_the_final_text_even_to_a_slow_reader(backend, reading):
    # Greedy, so the random model's output is the same on every run; the frontend adds the chat
    # template's stop string (<|im_end|>) even with ignore_eos, so the decode may end on it early.
    # The server merges the tokens a slow reader has not fetched yet into one chunk (2 chunks of 24
    # tokens were seen on a loaded machine), so the check is "more than one chunk" over 64 tokens.
    # A reader that takes ``reading`` seconds over each piece would lose the last pieces to
    # SGLang's text_iter (programs.pieces).
    state = long_answer.run(question="Tell me a story.", backend=backend, stream=True, temperature=0)
    chunks = []
    for chunk in programs.pieces(state, "answer"):
        chunks.append(chunk)
        time.sleep(reading)
    assert state.error() is None, state.error()
    assert len(chunks) >= 2, chunks
    assert "".join(chunks) == state["answer"]
    meta = state.get_meta_info("answer")
    assert 3 <= meta["completion_tokens"] <= 64
    if meta["completion_tokens"] < 64:
        assert meta["finish_reason"]["type"] == "stop", meta["finish_reason"]


@pytest.mark.smoke
def test_smollm2_answers_a_simple_question(smollm_server):
    backend = smollm_server.endpoint()
    messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "What is the capital of France?"}]
    state = run_ok(chat, backend, messages=messages, max_tokens=48)
    answer = state["reply"].strip()
    assert answer, "the model gave an empty answer"
    assert "Paris" in answer, answer


@pytest.mark.smoke
@pytest.mark.parametrize("messages", CONVERSATIONS, ids=["system-user", "multi-turn"])
def test_smollm2_chat_template_matches_its_tokenizer(smollm_server, messages):
    assert smollm_server.chat_template == "chatml"
    assert_prompt_matches_tokenizer_template(smollm_server, smollm_server.endpoint(), messages)
