"""An app that sets OpenTelemetry up in code (no launcher), run by test_install.py.

`python hand_built_app.py install|no-install|no-sdk`: builds an SDK `TracerProvider`
with an in-memory exporter (except `no-sdk`), calls `costline.install(provider)` only
for `install`, then tags many requests. Prints JSON: the tags each span carries and the
costline warnings logged.
"""

from __future__ import annotations

import json
import logging
import sys

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import costline

REQUESTS = 50


class Warnings(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def main(mode: str) -> None:
    warnings = Warnings()
    logging.getLogger("costline").addHandler(warnings)
    exporter = InMemorySpanExporter()
    if mode != "no-sdk":
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        trace.set_tracer_provider(provider)
        if mode == "install":
            costline.install(provider)
    tracer = trace.get_tracer("hand-built-app")
    for n in range(REQUESTS):
        with costline.attribution(customer_id=f"c{n}", feature="search"):
            with tracer.start_as_current_span("handle"):
                pass

    @costline.attribution(feature="report")
    def report() -> None:
        with tracer.start_as_current_span("report"):
            pass

    report()
    spans = [
        {k: v for k, v in s.attributes.items() if k.startswith("costline.")} for s in exporter.get_finished_spans()
    ]
    print(json.dumps({"spans": spans, "warnings": warnings.messages}))


if __name__ == "__main__":
    main(sys.argv[1])
