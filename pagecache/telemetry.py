"""OpenTelemetry, when ``opentelemetry-api`` is installed: lookups, stores and purges are
spans (``pagecache.lookup``, ``pagecache.store``, ``pagecache.purge``) and the ``STATS``
counters are also the metric ``pagecache.events``. Without the package nothing is imported
and every call here is a no-op that costs an attribute check.

The API is all pagecache uses: where spans and metrics go (an exporter, a collector) is the
site's own OpenTelemetry SDK setup, as with any instrumented library.
"""

from __future__ import annotations

import importlib.util
from types import TracebackType
from typing import Any

#: (tracer, counter) once looked up; False when OpenTelemetry is not installed.
_otel: tuple[Any, Any] | bool | None = None


def _setup() -> tuple[Any, Any] | bool:
    global _otel
    if _otel is None:
        if importlib.util.find_spec("opentelemetry") is None:
            _otel = False
        else:
            from opentelemetry import metrics, trace

            tracer = trace.get_tracer("pagecache")
            counter = metrics.get_meter("pagecache").create_counter(
                "pagecache.events",
                description="pagecache hits, stale hits, misses, bypasses, stores and purges",
            )
            _otel = (tracer, counter)
    return _otel


class _NoSpan:
    """What :func:`span` returns without OpenTelemetry: a context manager doing nothing."""

    def __enter__(self) -> _NoSpan:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None

    def set_attribute(self, name: str, value: Any) -> None:
        return None


_NO_SPAN = _NoSpan()


def span(name: str, attributes: dict[str, Any]) -> Any:
    """A span named ``name`` (use as a context manager; ``set_attribute`` on what it
    yields), or a no-op without OpenTelemetry."""
    otel = _otel if _otel is not None else _setup()
    if otel is False:
        return _NO_SPAN
    tracer = otel[0]  # type: ignore[index]
    return tracer.start_as_current_span(name, attributes=attributes)


def counted(scope: str, name: str, event: str, amount: int) -> None:
    """One ``STATS`` count as the metric ``pagecache.events``."""
    otel = _otel if _otel is not None else _setup()
    if otel is not False:
        otel[1].add(amount, {"scope": scope, "name": name, "event": event})  # type: ignore[index]


def forget() -> None:
    """Look the tracer and meter up again (tests install an SDK provider)."""
    global _otel
    _otel = None
