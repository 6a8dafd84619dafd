"""costline_processor: the server side of costline (`costline serve`, the ledger and its reports).

Spans flow one way through stages named for their jobs (pipeline.py wires them):
receive (OTLP over gRPC and HTTP) -> intake (decode, normalize a model call, price it) ->
assembly (wait for a trace, roll its costs up) -> export (the enriched spans), with the
ledger and metrics as sinks. records.py holds what flows between the stages and config.py
what configures them; the `costline` command's verbs live in commands/.
"""
