"""Admission (plato_sgl.core.admission) and what each request carries under load (plato_sgl.engine.endpoint):
the decision and the gate's bookkeeping are pure; the bound itself is checked on the real server."""

from __future__ import annotations

import threading
import time

import pytest

import plato_sgl
from plato_sgl.core.grammar import literal_regex
from tests.helpers import server_load


@pytest.mark.server
def test_a_batch_keeps_at_most_max_inflight_requests_on_the_server(backend):
    seen: list[int] = []
    done = threading.Event()

    def watch() -> None:  # what the server itself reports running or waiting, sampled during the batch
        while not done.is_set():
            load = server_load(backend.base_url)
            seen.append(int(load.get("num_running_reqs", 0)) + int(load.get("num_waiting_reqs", 0)))
            time.sleep(0.05)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        results = plato_sgl.run_batch(
            [f"How should shop {i} plan its week (admission)?" for i in range(4)],
            backend=backend,
            num_threads=4,
            progress_bar=False,
            max_inflight=2,
            plan_regex=literal_regex("1. Open.[]\n2. Stock.[]\n3. Close.[1,2]\n"),
            node_max_tokens=48,
            ignore_eos=True,
        )
    finally:
        done.set()
        watcher.join()
    assert all(r.ok and len(r.nodes) == 3 for r in results), [r.error for r in results]
    assert seen and max(seen) <= 2, max(seen)  # 4 questions x (plan, prefix, 3 nodes) never more than 2 at once
