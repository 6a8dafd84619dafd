"""google-genai traced by OpenInference (openinference-instrumentation-google-genai,
`GoogleGenAIInstrumentor`), on the global SDK provider exporting to costline: the calls of gemini_calls."""

from __future__ import annotations

import gemini_calls
import otel_setup
from openinference.instrumentation.google_genai import GoogleGenAIInstrumentor

provider = otel_setup.start("gemini-openinference-app")
GoogleGenAIInstrumentor().instrument(tracer_provider=provider)
gemini_calls.run()
provider.shutdown()
