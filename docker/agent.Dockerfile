# streamd-agent: one container per courtroom, next to the room's camera and encoder.
#   docker build -f docker/agent.Dockerfile -t streamd-agent .
# Debian's ffmpeg is used (streamd.media prefers a system ffmpeg to the imageio-ffmpeg wheel).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN apt-get update \
    && apt-get install -y --no-install-recommends ffmpeg \
    && rm -rf /var/lib/apt/lists/*
RUN useradd --system --uid 10001 --home-dir /srv/streamd streamd \
    && mkdir -p /srv/streamd/var/agents \
    && chown -R streamd /srv/streamd/var
WORKDIR /srv/streamd

COPY streamd_protocol ./streamd_protocol
COPY agents ./agents
# The agent's own distribution and the shared protocol: none of the server's stack.
RUN pip install ./streamd_protocol ./agents && rm -rf streamd_protocol agents
COPY streamd/sample/courtroom_configs ./courtroom_configs

USER streamd
# Recordings, the journal and the HLS output live under var/agents/<room>: mount a volume
# there. The broker address, command key and broker password come from the environment
# (STREAMD_AGENT_MQTT_URL, STREAMD_AGENT_SECRET, STREAMD_AGENT_MQTT_PASSWORD).
VOLUME ["/srv/streamd/var/agents"]
ENTRYPOINT ["streamd-agent"]
CMD ["--config", "courtroom_configs/room-01.toml"]
