"""The request or job a log record belongs to, carried in a context variable."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class LogContext:
    """Identifiers stamped on every log record emitted inside a request or a job."""

    request_id: str | None = None
    user_id: int | None = None
    job_run_id: int | None = None
    import_job_id: int | None = None


_NO_CONTEXT = LogContext()
_current: ContextVar[LogContext] = ContextVar("shared_log_context", default=_NO_CONTEXT)


def current_log_context() -> LogContext:
    """The identifiers bound in the running task or thread."""
    return _current.get()


@contextmanager
def bind_log_context(
    *,
    request_id: str | None = None,
    user_id: int | None = None,
    job_run_id: int | None = None,
    import_job_id: int | None = None,
) -> Iterator[LogContext]:
    """Bind identifiers for the block; unset arguments keep what an outer block bound.

    Tasks created inside the block inherit the binding (asyncio copies the context).
    """
    outer = _current.get()
    bound = LogContext(
        request_id=outer.request_id if request_id is None else request_id,
        user_id=outer.user_id if user_id is None else user_id,
        job_run_id=outer.job_run_id if job_run_id is None else job_run_id,
        import_job_id=outer.import_job_id if import_job_id is None else import_job_id,
    )
    token = _current.set(bound)
    try:
        yield bound
    finally:
        _current.reset(token)
