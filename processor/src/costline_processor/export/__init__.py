"""Export: pure request encoding (encode), OTLP clients with retry (client), bounded queues (queue)."""
