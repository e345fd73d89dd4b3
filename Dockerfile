# workledger: the bot in one image. Build: docker build -t workledger .
# Run: README "Deployment" (compose.yaml runs it with PostgreSQL).

# The project installed into a virtual environment of its own, from this checkout's
# files only (no editable install: the migrations, catalogs and policies go in as
# package data). Every dependency comes as a wheel, so no compiler is needed.
FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY handlers ./handlers
COPY assessment ./assessment
COPY storage ./storage
COPY config ./config
COPY locales ./locales
RUN python -m venv /opt/workledger \
    && /opt/workledger/bin/pip install . \
    && /opt/workledger/bin/python -m compileall -q /opt/workledger/lib

FROM python:3.11-slim-bookworm
# The score charts' Chinese text (assessment/charts.py looks for this font by file), and
# pg_dump/pg_restore for `workledger backup` and `restore` on PostgreSQL (Debian 12's
# client is PostgreSQL 15: pg_dump must be at least as new as the server).
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends fonts-wqy-microhei postgresql-client \
    && rm -rf /var/lib/apt/lists/*
# A system user that owns nothing but its state directory (a SQLite store, if used).
RUN groupadd --system --gid 10001 workledger \
    && useradd --system --uid 10001 --gid workledger --home-dir /var/lib/workledger \
        --create-home --shell /usr/sbin/nologin workledger
COPY --from=build /opt/workledger /opt/workledger
ENV PATH=/opt/workledger/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    MPLCONFIGDIR=/tmp/matplotlib
WORKDIR /var/lib/workledger
# Numeric, so that a runtime can tell it is not root without reading /etc/passwd.
USER 10001:10001
VOLUME ["/var/lib/workledger"]
# 9100: GET /healthz and GET /metrics (keep it off the public network).
# 8443: webhook mode's listener (compose.webhook.yaml), behind the reverse proxy.
EXPOSE 9100 8443
# Polling by default; the metrics server is on, so the health check can ask /healthz.
# A command without --metrics needs the health check turned off (compose:
# healthcheck: disable: true; docker run: --no-healthcheck).
CMD ["workledger", "run", "--metrics", "0.0.0.0:9100"]
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:9100/healthz', timeout=4)"]
# SIGTERM (docker stop) stops the bot cleanly within 10 s; give it 15 (docker stop -t 15).
STOPSIGNAL SIGTERM
