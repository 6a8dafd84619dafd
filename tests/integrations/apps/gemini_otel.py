"""google-genai traced by OpenTelemetry's own instrumentation (opentelemetry-instrumentation-google-genai,
`GoogleGenAiSdkInstrumentor`), on the global SDK provider exporting to costline: the calls of gemini_calls."""

from __future__ import annotations

import gemini_calls
import otel_setup
from opentelemetry.instrumentation.google_genai import GoogleGenAiSdkInstrumentor

provider = otel_setup.start("gemini-otel-app")
GoogleGenAiSdkInstrumentor().instrument()
gemini_calls.run()
provider.shutdown()
