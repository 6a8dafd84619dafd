# syntax=docker/dockerfile:1
#
# costline, built from this checkout with the README's install step
#
#     pip install '.[processor]'        (README.md: `pip install 'costline[processor]'`)
#
# and running `costline serve`. Two targets:
#
#   costline (the default, last stage)  the server: OTLP in on 4317 (gRPC) / 4318 (HTTP),
#                                       Prometheus /metrics on 9464, ledger in /var/lib/costline
#   demo                                the same source plus what `costline demo` needs
#                                       (`.[processor,test]`: openai, anthropic, opentelemetry-distro),
#                                       for docker-compose.yml's demo app and fake provider
#
#   docker build -t costline .
#   docker run --rm -p 4317:4317 -p 9464:9464 costline
#
# costline binds localhost unless told otherwise; the default command below binds all
# interfaces explicitly because inside a container that is the only way to be reached.

FROM python:3.11.14-slim-bookworm AS source
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
WORKDIR /src
# Only what the package build reads (pyproject.toml names README.md as the readme);
# .dockerignore keeps everything else out of the build context.
COPY pyproject.toml README.md ./
COPY instrumentation/src/ instrumentation/src/
COPY processor/src/ processor/src/
RUN useradd --system --uid 10001 --home-dir /var/lib/costline --no-create-home costline

FROM source AS demo
RUN pip install '.[processor,test]'
COPY deploy/demo_app.py /app/demo_app.py
USER costline
WORKDIR /app
CMD ["opentelemetry-instrument", "python", "/app/demo_app.py"]

FROM source AS costline
RUN pip install '.[processor]' \
 && mkdir -p /var/lib/costline \
 && chown costline /var/lib/costline
USER costline
WORKDIR /var/lib/costline
EXPOSE 4317 4318 9464
ENTRYPOINT ["costline"]
CMD ["serve", "--grpc", "0.0.0.0:4317", "--http", "0.0.0.0:4318", "--metrics", "0.0.0.0:9464", "--ledger", "/var/lib/costline/ledger.db"]
