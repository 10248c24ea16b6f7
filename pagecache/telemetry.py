"""OpenTelemetry, when ``opentelemetry-api`` is installed: lookups, stores and purges are
spans (``pagecache.lookup``, ``pagecache.store``, ``pagecache.purge``) and the ``STATS``
counters are also the metric ``pagecache.events``. Without the package nothing is imported
and every call here is a no-op that costs an attribute check; with the API but no SDK
provider installed yet, spans are skipped too (they would be dropped anyway).

The API is all pagecache uses: where spans and metrics go (an exporter, a collector) is the
site's own OpenTelemetry SDK setup, as with any instrumented library.
"""

from __future__ import annotations

import importlib.util
from types import TracebackType
from typing import Any

#: The tracer and counter once a real (SDK) provider is installed; ``False`` when
#: OpenTelemetry is not installed at all; ``None`` while not known yet.
_tracer: Any = None
_counter: Any = None
_installed: bool | None = None


def _api_installed() -> bool:
    global _installed
    if _installed is None:
        _installed = importlib.util.find_spec("opentelemetry") is not None
    return _installed


def _real_tracer() -> Any:
    """The tracer, once the site installed a tracer provider (until then, spans would go
    nowhere: pagecache skips them, so an API without an SDK costs nothing per request)."""
    global _tracer
    if _tracer is None and _api_installed():
        from opentelemetry import trace

        provider = trace.get_tracer_provider()
        if type(provider).__name__ not in ("ProxyTracerProvider", "NoOpTracerProvider"):
            _tracer = provider.get_tracer("pagecache")
    return _tracer


def _real_counter() -> Any:
    global _counter
    if _counter is None and _api_installed():
        from opentelemetry import metrics

        provider = metrics.get_meter_provider()
        if type(provider).__name__ not in ("_ProxyMeterProvider", "NoOpMeterProvider"):
            _counter = provider.get_meter("pagecache").create_counter(
                "pagecache.events",
                description="pagecache hits, stale hits, misses, bypasses, stores and purges",
            )
    return _counter


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
    tracer = _tracer if _tracer is not None else _real_tracer()
    if tracer is None:
        return _NO_SPAN
    return tracer.start_as_current_span(name, attributes=attributes)


def counted(scope: str, name: str, event: str, amount: int) -> None:
    """One ``STATS`` count as the metric ``pagecache.events``."""
    counter = _counter if _counter is not None else _real_counter()
    if counter is not None:
        counter.add(amount, {"scope": scope, "name": name, "event": event})


def forget() -> None:
    """Look the tracer and meter up again (tests install an SDK provider)."""
    global _tracer, _counter, _installed
    _tracer = _counter = _installed = None
