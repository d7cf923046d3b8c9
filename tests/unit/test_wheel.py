"""The built wheel works on its own, as a new user gets it: built from a copy of the sources, installed
into an empty directory, and used from a process where neither the checkout nor the editable
install can supply a missing module.

The editable install (``pip install -e .``) registers a meta-path finder from a ``.pth`` file in
site-packages that maps ``plato_sgl`` to the checkout. It runs after the ordinary path finder, so it
would quietly serve any ``plato_sgl.*`` module the wheel lacks. The child process therefore runs
with ``python -S`` (no ``site``, so no ``.pth`` files) and gets site-packages appended to
``sys.path`` by hand, behind the wheel's directory, for SGLang and the other dependencies.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# What a fresh clone has that matters to a build: everything but local state.
NOT_SOURCES = (".git", ".venv", "__pycache__", "*.egg-info", "build", "dist", "runs", ".pytest_cache", ".hypothesis")
# Data shipped next to the code: (folder in the checkout, package it ships as).
DATA_DIRS = (("grammars", "plato_sgl/grammars"), ("plato_sgl/data", "plato_sgl/data"))
PAGE = "plato_sgl/serving/page.html"  # the live page, served by plato-sgl api

CHILD = r"""
import importlib, importlib.metadata, importlib.resources, json, pkgutil, sys
target, site_packages = sys.argv[1], sys.argv[2]
sys.path.append(site_packages)  # dependencies only; the .pth files there are not run (python -S)
import plato_sgl
report = {"file": plato_sgl.__file__, "modules": {}, "errors": {}}
def failed(name):
    report["errors"][name] = repr(sys.exc_info()[1])
for info in pkgutil.walk_packages(plato_sgl.__path__, "plato_sgl.", onerror=failed):
    try:
        report["modules"][info.name] = importlib.import_module(info.name).__file__
    except BaseException:
        failed(info.name)
report["outside"] = sorted(
    name for name, mod in sys.modules.items()
    if name.split(".")[0] == "plato_sgl" and not (getattr(mod, "__file__", None) or "").startswith(target)
)
report["plan_json"] = str(importlib.resources.files("plato_sgl.grammars") / "plan.json")
report["plan_json_ok"] = bool(json.loads((importlib.resources.files("plato_sgl.grammars") / "plan.json").read_text()))
(dist,) = [d for d in importlib.metadata.distributions(path=[target]) if d.metadata["Name"] == "plato-sgl"]
report["scripts"] = {ep.name: ep.value for ep in dist.entry_points if ep.group == "console_scripts"}
print(json.dumps(report))
"""

ENTRY_POINT = r"""
import importlib.metadata, sys
target, site_packages = sys.argv[1], sys.argv[2]
sys.path.append(site_packages)
(dist,) = [d for d in importlib.metadata.distributions(path=[target]) if d.metadata["Name"] == "plato-sgl"]
(script,) = [ep for ep in dist.entry_points if ep.group == "console_scripts" and ep.name == "plato-sgl"]
sys.exit(script.load()(["--help"]))
"""


def source_modules() -> set[str]:
    """Every module of the package as the checkout lays it out (grammars/ is plato_sgl.grammars)."""
    names = set()
    for folder, package in (("plato_sgl", "plato_sgl"), ("grammars", "plato_sgl.grammars")):
        for path in (REPO / folder).rglob("*.py"):
            parts = path.relative_to(REPO / folder).with_suffix("").parts
            names.add(".".join((package, *parts[:-1], *([] if parts[-1] == "__init__" else parts[-1:]))))
    return names


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> tuple[Path, Path]:
    """(the wheel, the directory it was installed into) built from a clean copy of the sources
    (an in-tree build would reuse a stale build/lib, which can hide a missing package)."""
    root = tmp_path_factory.mktemp("wheel")
    src = root / "src"
    shutil.copytree(REPO, src, ignore=shutil.ignore_patterns(*NOT_SOURCES))
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]
    subprocess.run(
        [*pip, "wheel", "--no-build-isolation", "--no-deps", "-q", "-w", str(root / "dist"), str(src)],
        check=True,
        cwd=root,
    )
    (wheel,) = (root / "dist").glob("plato_sgl-*.whl")
    target = root / "target"
    subprocess.run(
        [*pip, "install", "--no-deps", "--no-index", "-q", "--target", str(target), str(wheel)], check=True, cwd=root
    )
    return wheel, target


def run_child(code: str, target: Path, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["PYTHONPATH"] = str(target)  # first on sys.path after the script's (empty) directory
    site_packages = sysconfig.get_paths()["purelib"]
    return subprocess.run(
        [sys.executable, "-S", "-c", code, str(target), site_packages],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_the_wheel_alone_holds_and_imports_every_module(installed, tmp_path):
    wheel, target = installed
    names = set(zipfile.ZipFile(wheel).namelist())
    for folder, package in DATA_DIRS:
        for path in (REPO / folder).iterdir():
            if path.is_file() and path.suffix != ".pyc":
                assert f"{package}/{path.name}" in names, f"{path.relative_to(REPO)} is not in the wheel"
    assert PAGE in names, "the live page is not in the wheel"

    done = run_child(CHILD, target, tmp_path)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert Path(report["file"]).is_relative_to(target), report["file"]  # the wheel's copy, not the checkout's
    assert report["errors"] == {}
    assert set(report["modules"]) | {"plato_sgl"} == source_modules()
    assert report["outside"] == []  # nothing was served from the checkout
    assert Path(report["plan_json"]).is_relative_to(target) and report["plan_json_ok"]
    assert report["scripts"] == {"plato-sgl": "plato_sgl.cli:main"}


def test_the_wheels_command_line_prints_its_help(installed, tmp_path):
    _, target = installed
    for code in (
        ENTRY_POINT,
        "import runpy, sys; sys.path.append(sys.argv[2]); sys.argv = ['plato-sgl', '--help'];"
        " runpy.run_module('plato_sgl.cli', run_name='__main__')",
    ):
        done = run_child(code, target, tmp_path)
        assert done.returncode == 0, done.stderr
        assert "usage: plato-sgl" in done.stdout and "ask" in done.stdout and "bench" in done.stdout
