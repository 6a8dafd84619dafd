"""costline_processor: the server side of costline (`costline serve`, the ledger and its reports).

Spans flow one way through stages named for their jobs, wired by pipeline.py (whose
docstring draws the flow): receive (OTLP over gRPC and HTTP) -> intake (span bytes grouped
by trace) -> assembly (wait for a trace; normalize, price and roll up its model calls) ->
wire (attributes appended to the span bytes) -> export, with the ledger and metrics as
sinks. records.py holds what flows between the stages and config.py what configures them;
the `costline` command's verbs live in commands/.
"""
