"""TLS and bearer-token auth on both receivers and on export, with real certificates."""

import subprocess
import sys
import time

import grpc
import pytest
import requests
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from costline_processor.config import ExportTarget
from tests.fakes.otlp_sink import OtlpSink
from tests.processor.harness import RunningServer, loopback_config
from tests.processor.spans import new_trace_id, request, span
from tests.processor.test_assembly import FlatPricer

TOKEN = "s3cret-token"


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    d = tmp_path_factory.mktemp("tls")
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "-keyout",
            str(d / "key.pem"),
            "-out",
            str(d / "cert.pem"),
        ],
        check=True,
        capture_output=True,
    )
    (d / "token").write_text(TOKEN + "\n")
    return d


def secured(cfg, tls):
    cfg.receive.tls_cert_file = str(tls / "cert.pem")
    cfg.receive.tls_key_file = str(tls / "key.pem")
    cfg.receive.bearer_token_file = str(tls / "token")
    return cfg


def send(exporter, name):
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    provider.get_tracer("t").start_span(name).end()
    provider.shutdown()


def test_grpc_and_http_with_tls_and_token_arrive_without_token_refused(tls):
    cert = (tls / "cert.pem").read_bytes()
    with (
        OtlpSink() as sink,
        RunningServer(secured(loopback_config(sink, trace_wait=0.1), tls), pricer=FlatPricer()) as srv,
    ):
        auth = {"authorization": f"Bearer {TOKEN}"}
        send(
            GrpcExporter(endpoint=srv.grpc_endpoint, credentials=grpc.ssl_channel_credentials(cert), headers=auth),
            "via-grpc",
        )
        https = srv.http_url.replace("http://", "https://")
        ok = requests.post(
            f"{https}/v1/traces",
            data=request([span(new_trace_id(), "via-http")]).SerializeToString(),
            verify=str(tls / "cert.pem"),
            timeout=10,
            headers={"Content-Type": "application/x-protobuf", "Authorization": f"Bearer {TOKEN}"},
        )
        assert ok.status_code == 200
        assert {s.name for s in sink.wait_for_spans(2)} == {"via-grpc", "via-http"}

        body = request([span(new_trace_id(), "no-token")]).SerializeToString()
        with grpc.secure_channel(srv.grpc_endpoint, grpc.ssl_channel_credentials(cert)) as ch:
            call = ch.unary_unary(
                "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
                request_serializer=None,
                response_deserializer=None,
            )
            with pytest.raises(grpc.RpcError) as e:
                call(body, timeout=10, metadata=(("authorization", "Bearer wrong"),))
            assert e.value.code() == grpc.StatusCode.UNAUTHENTICATED
        r = requests.post(
            f"{https}/v1/traces",
            data=body,
            verify=str(tls / "cert.pem"),
            headers={"Content-Type": "application/x-protobuf"},
            timeout=10,
        )
        assert r.status_code == 401 and r.headers["WWW-Authenticate"] == "Bearer"
        with pytest.raises(requests.exceptions.ConnectionError):  # plaintext to a TLS port
            requests.post(
                f"{srv.http_url}/v1/traces", data=body, headers={"Content-Type": "application/x-protobuf"}, timeout=5
            )
        time.sleep(0.3)
        assert "no-token" not in {s.name for s in sink.spans()}
        assert srv.stats.get("requests_refused", "unauthenticated") == 2


@pytest.mark.parametrize("protocol", ["grpc", "http"])
def test_export_over_tls_with_token_to_a_secured_backend(tls, protocol):
    """costline -> (TLS + token) -> a second costline -> sink: the chain delivers."""
    with (
        OtlpSink() as sink,
        RunningServer(secured(loopback_config(sink, trace_wait=0.1), tls), pricer=FlatPricer()) as backend,
    ):
        front = loopback_config(None, trace_wait=0.1)
        endpoint = backend.grpc_endpoint if protocol == "grpc" else backend.http_url.replace("http://", "https://")
        front.export.targets = [
            ExportTarget(
                protocol,
                endpoint,
                headers={"authorization": f"Bearer {TOKEN}"},
                insecure=False,
                ca_file=str(tls / "cert.pem"),
            )
        ]
        with RunningServer(front, pricer=FlatPricer()) as srv:
            send(GrpcExporter(endpoint=srv.grpc_endpoint, insecure=True), f"chained-{protocol}")
            assert [s.name for s in sink.wait_for_spans(1, timeout=15)] == [f"chained-{protocol}"]


def test_tls_half_configured_is_one_clear_line(tls):
    r = subprocess.run(
        [sys.executable, "-m", "costline_processor.cli", "serve", "--tls-cert", str(tls / "cert.pem")],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert r.returncode == 2 and r.stderr.strip() == "costline: TLS needs both --tls-cert and --tls-key"
    r = subprocess.run(
        [sys.executable, "-m", "costline_processor.cli", "serve", "--bearer-token-file", "/no/such/token"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert r.returncode == 2 and "cannot read the bearer token file /no/such/token" in r.stderr
