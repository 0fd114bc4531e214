# llm-compare: the API and its dispatcher in one slim, non-root image.
FROM python:3.11-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pyproject.toml README.md alembic.ini ./
COPY app ./app
COPY migrations ./migrations
RUN python -m venv /opt/venv && /opt/venv/bin/pip install .

FROM python:3.11-slim
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    LLM_COMPARE_HOST=0.0.0.0 \
    LLM_COMPARE_PORT=8000 \
    LLM_COMPARE_DATA_DIR=/data
RUN useradd --system --uid 10001 --home-dir /data --create-home llmc
COPY --from=build /opt/venv /opt/venv
USER llmc
WORKDIR /data
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status == 200 else 1)"
CMD ["llm-compare", "serve"]
