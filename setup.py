"""Package discovery, the one thing pyproject.toml cannot say alone (everything else is there).

Every package under ``plato_sgl/`` is found, not listed, so a new subpackage ships without anyone
remembering to add it (a hand-kept list once left out ``plato_sgl.methods``). ``grammars/`` lives at
the top of the repository and ships as ``plato_sgl.grammars``: ``[tool.setuptools.packages.find]``
only finds packages by their directory names, so that one package is added here and
pyproject.toml's ``package-dir`` maps it onto ``grammars/``. tests/test_wheel.py imports every
module from the built wheel.
"""

from setuptools import find_packages, setup

setup(packages=[*find_packages(include=["plato_sgl", "plato_sgl.*"]), "plato_sgl.grammars"])
