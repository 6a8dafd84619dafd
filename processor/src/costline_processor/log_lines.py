"""How `costline serve`'s log lines look: text for a terminal, or JSON for log pipelines.

`--log-format json` ($COSTLINE_LOG_FORMAT) writes one JSON object per line, so Loki, Fluent
Bit or a Kubernetes log collector can read fields instead of parsing text:

    {"time": "2026-03-01T12:00:00.123Z", "level": "INFO", "logger": "costline.server", "message": "..."}

with `worker` (the index, under --workers N) and `exception` (the formatted traceback) when
there are any. A message is one JSON string however many lines it has, so a line is always
one record. Python's warnings go through logging too, in that format.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

TEXT = "%(asctime)s %(levelname)s %(name)s{worker}: %(message)s"


class JsonLines(logging.Formatter):
    """One JSON object per record: time (UTC, ms), level, logger, message [, worker, exception]."""

    def __init__(self, worker: int | None = None) -> None:
        super().__init__()
        self.worker = worker

    def format(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
        line: dict[str, object] = {
            "time": when.replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if self.worker is not None:
            line["worker"] = self.worker
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def configure_logging(level: str, log_format: str = "text", worker: int | None = None) -> None:
    """The root logger's one handler (stderr) at `level`, in `log_format` ("text" or "json");
    `worker` marks the lines of worker i under --workers N."""
    handler = logging.StreamHandler()
    if log_format == "json":
        handler.setFormatter(JsonLines(worker))
        logging.captureWarnings(True)
    else:
        handler.setFormatter(logging.Formatter(TEXT.format(worker="" if worker is None else f"[w{worker}]")))
    logging.basicConfig(level=level, handlers=[handler])
