"""The run every method shares: a clock, a deadline and a Result, and one way a failure is raised."""

from __future__ import annotations

from plato_sgl.core.errors import PlatoError, PlatoTimeout
from plato_sgl.core.options import Options
from plato_sgl.core.result import Clock, Result
from plato_sgl.core.scheduler import Deadline


class MethodRun:
    """One question answered by one method. Subclasses write ``_run``; a PlatoError it raises is
    raised again as PlatoError or PlatoTimeout carrying the partial Result, so no finished work is lost."""

    label = "the method"  # names the method in error messages

    def __init__(self, method: str, question: str, options: Options):
        self.question = question
        self.options = options
        self.clock = Clock()
        self.deadline = Deadline(options.timeout, self.clock)
        self.result = Result(question=question, method=method, options=options.to_dict(question))

    def run(self) -> Result:
        try:
            self._run()
        except PlatoError as exc:
            self.result.error = f"{self.label} failed: {exc}"  # set before _failure records, in case it fails too
            self.result.error = self._failure(exc)
            kind = PlatoTimeout if isinstance(exc, PlatoTimeout) else PlatoError
            raise kind(self.result.error, self.result) from exc
        finally:
            self._finish()
            self.result.wall_time = self.clock.now()
        self._succeeded()
        return self.result

    def _run(self) -> None:
        raise NotImplementedError

    def _failure(self, exc: PlatoError) -> str:
        """The Result's error message for ``exc``; may record what was finished."""
        return f"{self.label} failed: {exc}"

    def _finish(self) -> None:
        """Record what the run produced, whether it succeeded or failed."""

    def _succeeded(self) -> None:
        """Record what only a run that succeeded has."""
