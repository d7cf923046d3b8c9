"""Directory put on the SGLang *server subprocess's* ``PYTHONPATH`` for CPU serving only.

It holds a pure-torch ``sgl_kernel`` stand-in (see ``sgl_kernel/__init__.py``). Nothing in
plato-sgl imports it; ``plato_sgl.serving.local`` only passes this directory's path to the server.
"""

from __future__ import annotations

from pathlib import Path

SHIM_DIR: Path = Path(__file__).resolve().parent
