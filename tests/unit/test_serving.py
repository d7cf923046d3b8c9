"""Local serving without a model: clear errors for bad folders, URLs and arguments, the CPU defaults, the sgl_kernel stand-in."""

from __future__ import annotations

import os
import socket

import pytest
import torch

from plato_sgl.core.errors import PlatoError, ServerError
from plato_sgl.engine.connect import connect
from plato_sgl.serving.cpu_shim.sgl_kernel import assign_req_to_token_pool_cpu, copy_all_layer_kv_cache_cpu
from plato_sgl.serving.local import LocalServer, free_port, open_backend


def test_missing_model_folder_is_a_clear_server_error(tmp_path):
    missing = tmp_path / "no-such-folder"
    with pytest.raises(ServerError, match="no-such-folder") as caught:
        LocalServer(missing).start()
    assert "not a registry name" in str(caught.value)


def test_folder_without_config_is_refused(tmp_path):
    with pytest.raises(ServerError, match="no config.json"):
        LocalServer(tmp_path).start()


# ---------------------------------------------------------------- connecting


def test_unreachable_url_is_a_clear_error():
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(ServerError) as caught:
        connect(url)
    message = str(caught.value)
    assert url in message and "connection refused" in message
    assert "Traceback" not in message and "urllib3" not in message


def test_open_backend_with_unreachable_url():
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(ServerError, match="connection refused"):
        with open_backend(url=url):
            pass


def test_bad_url_and_arguments():
    with pytest.raises(ServerError, match="not a valid server URL"):
        connect("localhost:1234")
    with pytest.raises(ValueError, match="exactly one"):
        with open_backend():
            pass
    with pytest.raises(ValueError, match="exactly one"):
        with open_backend(model="tiny-random", url="http://127.0.0.1:1"):
            pass


def test_server_errors_are_plato_errors():
    assert issubclass(ServerError, PlatoError)


def test_shim_assigns_request_slots_in_order():
    req_to_token = torch.zeros((4, 10), dtype=torch.int32)
    out_cache_loc = torch.tensor([11, 12, 13, 21, 22, 31], dtype=torch.int64)
    assign_req_to_token_pool_cpu(
        torch.tensor([2, 0, 3]),
        req_to_token,
        torch.tensor([0, 5, 9]),
        torch.tensor([3, 7, 10]),
        out_cache_loc,
        req_to_token.shape[1],
    )
    assert req_to_token[2, :3].tolist() == [11, 12, 13]
    assert req_to_token[0, 5:7].tolist() == [21, 22]
    assert req_to_token[3, 9].item() == 31
    assert int(req_to_token.count_nonzero()) == 6


def test_shim_copies_kv_slots_in_every_buffer():
    k = torch.arange(5 * 3, dtype=torch.float32).reshape(5, 3)
    v = torch.arange(5 * 2, dtype=torch.bfloat16).reshape(5, 2) + 100
    k_before, v_before = k.clone(), v.clone()
    buffers = (k, v)
    data_ptrs = torch.tensor([b.data_ptr() for b in buffers], dtype=torch.int64)
    strides = torch.tensor([b.stride(0) * b.element_size() for b in buffers], dtype=torch.int64)
    copy_all_layer_kv_cache_cpu(data_ptrs, strides, torch.tensor([4, 0]), torch.tensor([1, 2]))
    for after, before in ((k, k_before), (v, v_before)):
        assert torch.equal(after[4], before[1]) and torch.equal(after[0], before[2])
        assert torch.equal(after[1:4], before[1:4])


def test_shim_registers_no_torch_ops_and_refuses_speculative_helpers():
    import plato_sgl.serving.cpu_shim.sgl_kernel as shim

    assert not [name for name in torch._C._dispatch_get_all_op_names() if name.startswith("sgl_kernel::")]
    with pytest.raises(NotImplementedError, match="speculative"):
        shim.verify_tree_greedy_cpu()


def test_a_cpu_server_runs_in_bfloat16_on_every_core_unless_told_otherwise(monkeypatch):
    # the defaults benchmarks/engine-cpu chose; a user's flags after `--` and PLATO_SGL_THREADS win
    from plato_sgl.serving.local import CPU_DTYPE, default_threads

    server = LocalServer("tiny-random", extra_args=["--dtype", "float16"])
    command = server._command(on_cpu=True)
    assert command[command.index("--dtype") + 1] == CPU_DTYPE == "bfloat16"
    assert command[-2:] == ["--dtype", "float16"]  # later on the command line: argparse keeps the last
    monkeypatch.delenv("PLATO_SGL_THREADS", raising=False)
    assert default_threads() == len(os.sched_getaffinity(0))
    monkeypatch.setenv("PLATO_SGL_THREADS", "1")
    assert default_threads() == 1 and server._environment(on_cpu=True)["OMP_NUM_THREADS"] == "1"


def test_free_ports_are_bindable_distinct_and_outside_the_range_the_os_hands_out():
    ports = [free_port() for _ in range(20)]
    assert len(set(ports)) == 20 and all(20000 <= p < 32768 for p in ports)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", ports[0]))  # nothing took it
