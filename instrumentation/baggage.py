"""Copy `costline.*` baggage onto every span started in that context.

Built on contrib's `BaggageSpanProcessor`; the launcher hook registers it on the
global tracer provider (`configurator.py`). Only costline's own entries are copied:
other baggage may hold things that were never meant to become span attributes.
"""

from __future__ import annotations

from opentelemetry.processor.baggage import BaggageSpanProcessor

from costline.instrumentation.attribution import PREFIX


def is_costline_key(key: str) -> bool:
    return key.startswith(PREFIX)


class CostlineBaggageSpanProcessor(BaggageSpanProcessor):
    """`BaggageSpanProcessor` limited to `costline.*` entries."""

    def __init__(self) -> None:
        super().__init__(is_costline_key)
