"""``append_answer`` refuses a program state without a user turn last, before any request."""

from __future__ import annotations

import pytest

import plato_sgl


def test_append_answer_needs_a_program_state_with_a_user_turn_last():
    with pytest.raises(ValueError, match="needs an SGLang program state"):
        plato_sgl.append_answer("not a state")
