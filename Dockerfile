# callgate: slim, non-root, gunicorn, with a health check.
#   docker build -t callgate .
#   docker run -p 8000:8000 -e CALLGATE_BIND=0.0.0.0:8000 -v callgate-var:/app/var callgate
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    CALLGATE_BIND=0.0.0.0:8000

WORKDIR /app
RUN groupadd --system callgate && useradd --system --gid callgate --home-dir /app callgate

# Dependencies first, so that a code change does not reinstall them.
COPY pyproject.toml README.md ./
COPY service/__init__.py service/__init__.py
RUN pip install . && pip uninstall -y callgate

COPY service service
COPY widget widget
COPY wsgi.py gunicorn.conf.py ./
# Editable: the code and the widget are served from /app, where they were copied.
RUN pip install --no-deps -e . && mkdir -p var && chown callgate:callgate var

USER callgate
EXPOSE 8000
VOLUME ["/app/var"]
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s --retries=3 \
    CMD python -c "import os, urllib.request; port = os.environ['CALLGATE_BIND'].rsplit(':', 1)[1]; urllib.request.urlopen(f'http://127.0.0.1:{port}/healthz', timeout=2)"
CMD ["callgate", "serve"]
