# syntax=docker/dockerfile:1
# Operations image: `python -m devstack topics` (the topic-creation Job) and `token`.
# Build context is the repository root:
#   docker build -f deploy/devstack.Dockerfile -t one-window/devstack .
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv
RUN pip install --no-cache-dir "uv==0.13.9"
WORKDIR /src
COPY pyproject.toml uv.lock ./
COPY contracts/pyproject.toml contracts/
COPY libs/servicekit/pyproject.toml libs/servicekit/
COPY services/registration/pyproject.toml services/registration/
COPY services/approvals/pyproject.toml services/approvals/
COPY services/ratings/pyproject.toml services/ratings/
COPY services/notifications/pyproject.toml services/notifications/
COPY services/crossregion/pyproject.toml services/crossregion/
COPY tools/devstack/pyproject.toml tools/devstack/
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
