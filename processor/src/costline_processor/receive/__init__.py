"""Receivers: OTLP over gRPC and HTTP in, decoded requests out (decode, status, grpc, http)."""
