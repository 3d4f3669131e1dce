# streamd: the HTTP API, the orchestrator and the monitor. Build from the repository root:
#   docker build -f docker/streamd.Dockerfile -t streamd .
# streamd needs no ffmpeg binary: the monitor decodes with PyAV, which brings its own.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN useradd --system --uid 10001 --home-dir /srv/streamd streamd \
    && mkdir -p /srv/streamd /var/lib/streamd \
    && chown streamd /var/lib/streamd
WORKDIR /srv/streamd

COPY pyproject.toml README.md ./
COPY streamd ./streamd
COPY streamd_protocol ./streamd_protocol
RUN pip install ./streamd_protocol . && rm -rf build *.egg-info
COPY streamd/sample/courtroom_configs ./courtroom_configs

USER streamd
ENV STREAMD_HOST=0.0.0.0 \
    STREAMD_PORT=8080 \
    STREAMD_DATA_DIR=/var/lib/streamd \
    STREAMD_COURT_CONFIG_DIR=/srv/streamd/courtroom_configs
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/readyz', timeout=4)"
# Migrations and the court's structure are applied at every start; both are idempotent.
CMD ["sh", "-c", "streamd db upgrade && streamd court load && exec streamd serve"]
