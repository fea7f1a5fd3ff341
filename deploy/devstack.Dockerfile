# syntax=docker/dockerfile:1
# Operations image: `python -m devstack topics` (the topic-creation Job) and `token`.
# Build context is the repository root:
#   docker build -f deploy/devstack.Dockerfile -t one-window/devstack .
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# Every workspace member's pyproject.toml and nothing else (uv reads the whole workspace);
# see deploy/Dockerfile.
FROM ${PYTHON_IMAGE} AS manifests
WORKDIR /src
COPY contracts/ contracts/
COPY libs/ libs/
COPY services/ services/
COPY tools/ tools/
RUN find . -type f ! -name pyproject.toml -delete && find . -depth -type d -empty -delete

FROM ${PYTHON_IMAGE} AS build
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv
RUN pip install --no-cache-dir "uv==0.13.9"
WORKDIR /src
COPY pyproject.toml uv.lock ./
COPY --from=manifests /src/ ./
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --package ow-devstack --no-install-workspace
COPY contracts/ contracts/
COPY libs/servicekit/ libs/servicekit/
COPY tools/devstack/ tools/devstack/
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --package ow-devstack --no-editable

FROM ${PYTHON_IMAGE}
RUN groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid app --home-dir /app --no-create-home --shell /usr/sbin/nologin app
COPY --from=build /app/.venv /app/.venv
ENV PATH=/app/.venv/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
WORKDIR /app
USER 10001:10001
ENTRYPOINT ["python", "-m", "devstack"]
CMD ["topics", "--help"]
