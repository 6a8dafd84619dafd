"""The OpenTelemetry context keys costline's per-call path reads directly.

The API and the instrumentation package keep the current span and the "suppress
instrumentation" flags under keys with private names (stable across 1.x). Reading them
from the context the wrapper already holds saves the public functions' own context
lookups on every model call. Should a release move them, these are None and the callers
use the public functions instead: slower, never wrong.
"""

from __future__ import annotations

from opentelemetry.instrumentation import utils as _instrumentation_utils
from opentelemetry.trace import propagation as _propagation

# `set_span_in_context` / `get_current_span`
SPAN_KEY: str | None = getattr(_propagation, "_SPAN_KEY", None)
# what `is_instrumentation_enabled()` reads: SUPPRESS_KEY is None unless the package has both
# keys, and callers read SUPPRESS_KEY_PLAIN only when it is not
SUPPRESS_KEY_PLAIN: str = getattr(_instrumentation_utils, "_SUPPRESS_INSTRUMENTATION_KEY_PLAIN", "")
SUPPRESS_KEY: str | None = (
    getattr(_instrumentation_utils, "_SUPPRESS_INSTRUMENTATION_KEY", None) if SUPPRESS_KEY_PLAIN else None
)
