"""The OpenTelemetry context keys costline's per-call path reads directly.

The API and the instrumentation package keep the current span and the "suppress
instrumentation" flags under keys with private names (stable across 1.x). Reading them
from the context the wrapper already holds saves the public functions' own context
lookups on every model call. Should a release move them, these are None and the callers
use the public functions instead: slower, never wrong.
"""

from __future__ import annotations

try:
    from opentelemetry.trace.propagation import _SPAN_KEY as SPAN_KEY  # `set_span_in_context` / `get_current_span`
except ImportError:  # pragma: no cover - depends on the installed API
    SPAN_KEY = None

try:  # what `is_instrumentation_enabled()` reads
    from opentelemetry.instrumentation.utils import (
        _SUPPRESS_INSTRUMENTATION_KEY as SUPPRESS_KEY,
        _SUPPRESS_INSTRUMENTATION_KEY_PLAIN as SUPPRESS_KEY_PLAIN,
    )
except ImportError:  # pragma: no cover - depends on the installed package
    SUPPRESS_KEY = SUPPRESS_KEY_PLAIN = None
