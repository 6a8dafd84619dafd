"""Provider names as emitters spell them, mapped to genai-prices provider ids.

The provider attribute is a hint, not a fact (OpenAI-compatible SDKs always say
"openai", frameworks name themselves). Known vendor spellings become the
genai-prices id; framework names become None so pricing falls back to
`server.address` and the model name; anything else is kept lower-cased.
"""

from __future__ import annotations

_ALIASES = {
    "aws.bedrock": "aws",
    "bedrock": "aws",
    "amazon-bedrock": "aws",
    "amazon": "aws",
    "azure.ai.openai": "azure",
    "az.ai.openai": "azure",
    "azure.ai.inference": "azure",
    "az.ai.inference": "azure",
    "azure-openai": "azure",
    "gcp.vertex_ai": "google",
    "gcp.gen_ai": "google",
    "gcp.gemini": "google",
    "vertex_ai": "google",
    "vertexai": "google",
    "vertex": "google",
    "gemini": "google",
    "google-cloud": "google",
    "google-vertex": "google",
    "google-gla": "google",
    "x_ai": "x-ai",
    "xai": "x-ai",
    "mistral_ai": "mistral",
    "mistralai": "mistral",
    "together_ai": "together",
    "together-ai": "together",
    "togetherai": "together",
    "fireworks-ai": "fireworks",
    "fireworks_ai": "fireworks",
    "moonshot_ai": "moonshotai",
    "moonshot": "moonshotai",
    "ibm.watson.ai": "ibm.watsonx.ai",
}

# Frameworks that write their own name where the vendor belongs.
_NOT_VENDORS = frozenset({"langchain", "gcp.vertex.agent", "litellm", "pydantic-ai", "ai", "unknown"})


def normalize_provider(raw: str | None) -> str | None:
    """`raw` lower-cased and mapped to a genai-prices id where one is known."""
    if not raw:
        return None
    name = raw.strip().lower()
    if not name or name in _NOT_VENDORS:
        return None
    if name in _ALIASES:
        return _ALIASES[name]
    if "." in name:  # Vercel ids: "openai.chat", "anthropic.messages", "google.vertex.chat"
        head = name.split(".", 1)[0]
        return _ALIASES.get(head, head)
    return name
