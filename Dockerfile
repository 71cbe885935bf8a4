# The scorer worker image used by docker-compose.yml.
FROM python:3.11.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app

# Dependencies first, pinned by the constraints file, so code edits reuse this layer.
COPY constraints.txt pyproject.toml README.md ./
COPY scorer/__init__.py scorer/__init__.py
RUN pip install -c constraints.txt ".[rocksdb]" && pip uninstall -y lead-scorer

COPY scorer scorer
COPY topics topics
COPY rules rules
COPY forms forms
RUN pip install --no-deps -e . \
    && useradd --system --uid 10001 scorer && mkdir -p /app/data && chown scorer /app/data
USER scorer

ENV SCORER_WEB_HOST=0.0.0.0 SCORER_DATA_DIR=/app/data
EXPOSE 6066
HEALTHCHECK --interval=10s --timeout=3s --retries=6 \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:6066/health', timeout=2)"
CMD ["scorer", "worker"]
