# syntax=docker/dockerfile:1
# callgate: the wheel built in one stage, installed (not editable) into a slim, non-root image
# that serves with gunicorn and checks its own health.
#   docker build -t callgate .
#   docker run -p 8000:8000 -v callgate-var:/app/var callgate

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
# What the wheel is built from (.dockerignore keeps tests, benchmarks and local state out).
COPY . .
RUN pip wheel --no-deps --wheel-dir /wheels .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    CALLGATE_BIND=0.0.0.0:8000 \
    CALLGATE_LOG_FORMAT=json

# A numeric id, so that an orchestrator can tell it is not root (runAsNonRoot).
RUN groupadd --system --gid 10001 callgate \
    && useradd --system --uid 10001 --gid callgate --home-dir /app --no-create-home callgate
WORKDIR /app

# The wheel and its dependencies; the wheel itself is mounted, never left in a layer.
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install /wheels/*.whl \
    && mkdir -p var \
    && chown 10001:10001 var

USER 10001:10001
EXPOSE 8000
# The SQLite database, its lock and doorbell, and a generated dry-run key live here.
VOLUME ["/app/var"]
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; port = os.environ['CALLGATE_BIND'].rsplit(':', 1)[1]; urllib.request.urlopen(f'http://127.0.0.1:{port}/healthz', timeout=2)"]
CMD ["callgate", "serve"]
