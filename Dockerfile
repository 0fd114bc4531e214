# llm-compare: the API and its dispatcher in one slim, non-root image.
# `--build-arg LOCAL_MODELS=1` adds the two offline models (README, "Local models"): llama.cpp
# is compiled in the build stage (several minutes) and the image grows by about 400 MB.
# The `otel` extra is always in: traces cost nothing until OTEL_EXPORTER_OTLP_ENDPOINT is set.
ARG LOCAL_MODELS=0

FROM python:3.11-slim AS build
ARG LOCAL_MODELS
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PATH=/opt/venv/bin:$PATH
RUN if [ "$LOCAL_MODELS" = 1 ]; then \
      apt-get update && apt-get install -y --no-install-recommends build-essential cmake \
      && rm -rf /var/lib/apt/lists/*; \
    fi
WORKDIR /src
COPY pyproject.toml README.md alembic.ini ./
COPY app ./app
COPY migrations ./migrations
COPY scripts ./scripts
RUN python -m venv /opt/venv \
    && if [ "$LOCAL_MODELS" = 1 ]; then bash scripts/install-local.sh .[local,otel]; \
       else pip install .[otel]; fi

FROM python:3.11-slim
ARG LOCAL_MODELS
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    LLM_COMPARE_HOST=0.0.0.0 \
    LLM_COMPARE_PORT=8000 \
    LLM_COMPARE_DATA_DIR=/data \
    LLM_COMPARE_WORKERS=2
# llama.cpp's threads need the OpenMP runtime.
RUN if [ "$LOCAL_MODELS" = 1 ]; then \
      apt-get update && apt-get install -y --no-install-recommends libgomp1 \
      && rm -rf /var/lib/apt/lists/*; \
    fi
RUN useradd --system --uid 10001 --home-dir /data --create-home llmc
COPY --from=build /opt/venv /opt/venv
USER llmc
WORKDIR /data
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status == 200 else 1)"
CMD ["llm-compare", "serve"]
