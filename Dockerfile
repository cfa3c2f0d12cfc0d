# syntax=docker/dockerfile:1.7
# One image for api, collector, frontend and the one-shot migrate: the command picks the
# service (`spotify-mcp api`, `collector`, `frontend`, `migrate`; see docker-compose.yml).
#
#   docker build -t spotify-mcp .
#   docker run --rm --env-file .env spotify-mcp migrate
#
# Dependencies come from uv.lock only (`uv sync --locked`), with the uv version the Makefile
# pins. The runtime stage holds the virtual environment and nothing else: no uv, no compiler,
# no source tree, no tests; it runs as an unprivileged user.

ARG PYTHON_VERSION=3.11
ARG UV_VERSION=0.13.9

FROM ghcr.io/astral-sh/uv:${UV_VERSION} AS uv

# ---- build: resolve nothing, install exactly what the lock file says --------------------
FROM python:${PYTHON_VERSION}-slim-bookworm AS build
COPY --from=uv /uv /uvx /bin/
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=/usr/local/bin/python3 \
    UV_PROJECT_ENVIRONMENT=/app/.venv
WORKDIR /src

# Third-party dependencies first: this layer is rebuilt only when the lock file changes.
COPY pyproject.toml uv.lock ./
COPY services/shared/pyproject.toml services/shared/pyproject.toml
COPY services/api/pyproject.toml services/api/pyproject.toml
COPY services/collector/pyproject.toml services/collector/pyproject.toml
COPY services/frontend/pyproject.toml services/frontend/pyproject.toml
COPY services/fake-spotify/pyproject.toml services/fake-spotify/pyproject.toml
COPY services/testkit/pyproject.toml services/testkit/pyproject.toml
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --locked --no-dev --no-editable --no-install-workspace

# Then the project itself, installed as regular (non-editable) packages into the same
# environment: the runtime image does not need the source tree.
COPY README.md ./
COPY src src
COPY services services
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --locked --no-dev --no-editable

# ---- runtime -------------------------------------------------------------------------------
FROM python:${PYTHON_VERSION}-slim-bookworm AS runtime
ARG APP_UID=10001
RUN groupadd --system --gid "${APP_UID}" app \
    && useradd --system --uid "${APP_UID}" --gid app --no-create-home \
       --home-dir /nonexistent --shell /usr/sbin/nologin app \
    && mkdir -p /data/imports \
    && chown -R app:app /data

# Owned by root: the service can read its code but not change it.
COPY --from=build /app/.venv /app/.venv
COPY deploy/healthcheck.py /app/healthcheck.py

ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    APP_ENV=production \
    API_HOST=0.0.0.0 \
    FRONTEND_HOST=0.0.0.0 \
    IMPORT_DIR=/data/imports

WORKDIR /app
# docker-compose.yml mounts a named volume on /data/imports; an empty named volume takes this
# folder's ownership, so the unprivileged user can write uploads into it.
USER app:app
EXPOSE 8000 8001

ENTRYPOINT ["spotify-mcp"]
CMD ["api"]
