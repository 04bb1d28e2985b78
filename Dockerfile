# llmroute gateway image (docs/deploy.md).
#
#   docker build -t llmroute .
#   docker run -p 12000:12000 -v $PWD/llmroute.yaml:/etc/llmroute/llmroute.yaml:ro llmroute
#
# BASE_IMAGE: any Debian-like image with Python 3.11+ and its venv module (the official slim image by
# default; `make image-test` builds on a Debian base made locally, with no registry).
ARG BASE_IMAGE=python:3.11-slim-bookworm

# --- build: a virtual environment with llmroute and its dependencies (the embedded router model included) ---
FROM ${BASE_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
RUN python3 -m venv /opt/llmroute
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY src ./src
RUN /opt/llmroute/bin/pip install --no-compile . \
    # Nothing at run time needs pip, the test suites some wheels ship, or ONNX's C++ headers.
    && /opt/llmroute/bin/pip uninstall -y pip \
    && find /opt/llmroute -depth \( -name tests -o -name test -o -name __pycache__ \) -type d -exec rm -rf {} + \
    && find /opt/llmroute -name '*.h' -delete -o -name '*.pyi' -delete \
    # Byte-compile once here: the gateway runs as a user that cannot write next to the sources.
    && /opt/llmroute/bin/python -m compileall -q -j 0 /opt/llmroute/lib >/dev/null

# --- run: the base, the environment, an unprivileged user ---
FROM ${BASE_IMAGE}
COPY --from=build /opt/llmroute /opt/llmroute
RUN (groupadd --system --gid 10001 llmroute && useradd --system --uid 10001 --gid llmroute \
        --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin llmroute) \
    && mkdir -p /etc/llmroute
# The config is mounted here (a read-only volume); the gateway never writes to it.
COPY --chown=root:root deploy/llmroute.yaml /etc/llmroute/llmroute.yaml
ENV PATH=/opt/llmroute/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    LLMROUTE_CONFIG_FILE=/etc/llmroute/llmroute.yaml \
    LLMROUTE_HOST=0.0.0.0 \
    LLMROUTE_PORT=12000 \
    LLMROUTE_WORKERS=1 \
    LLMROUTE_LOG_FORMAT=json \
    LLMROUTE_LOG_LEVEL=info
USER 10001:10001
EXPOSE 12000
# /healthz answers 200 once the gateway serves; python's urllib avoids shipping curl.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python3", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('LLMROUTE_PORT', '12000'), timeout=4)"]
# A shell so the environment picks the config, address, port, workers and logging; exec so the gateway is
# PID 1's replacement and gets SIGTERM (graceful stop) and SIGHUP (config reload) directly.
CMD ["/bin/sh", "-c", "exec llmroute up \"$LLMROUTE_CONFIG_FILE\" --host \"$LLMROUTE_HOST\" --port \"$LLMROUTE_PORT\" --workers \"$LLMROUTE_WORKERS\" --log-format \"$LLMROUTE_LOG_FORMAT\" --log-level \"$LLMROUTE_LOG_LEVEL\""]
