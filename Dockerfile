# SOGOMS: one image for every process (docs/operations.md, "Containers and Kubernetes").
#
#   docker build -t sogoms --build-arg SOGOMS_BUILD_COMMIT="$(git rev-parse HEAD)" .
#   docker run sogoms http | socket | worker | beat | migrate | manage <command...>
#
# The builder stage compiles the wheels (mysqlclient needs a compiler and the MariaDB
# headers) into a virtualenv; the runtime stage gets that virtualenv and the MariaDB
# client library only, and runs as an unprivileged user.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm
# The Debian packages are not pinned (hadolint's DL3008): their versions are the base
# image's Debian release's, whose security updates a rebuild should take.

FROM ${PYTHON_IMAGE} AS builder
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc libc6-dev libmariadb-dev pkg-config \
    && rm -rf /var/lib/apt/lists/*
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
COPY requirements.txt /tmp/requirements.txt
RUN /opt/venv/bin/pip install -r /tmp/requirements.txt

WORKDIR /src
COPY . .
# The static files (the admin's, Swagger UI's) are collected once, here. A throw-away
# secret key: settings would otherwise write a generated one into the image.
RUN SOGOMS_SECRET_KEY=collectstatic-only SOGOMS_VAR_DIR=/tmp/var SOGOMS_STATIC_ROOT=/opt/static \
    /opt/venv/bin/python manage.py collectstatic --noinput \
    && rm -rf /tmp/var


FROM ${PYTHON_IMAGE} AS runtime
ARG SOGOMS_BUILD_COMMIT=unknown
# libmariadb3: mysqlclient's library; mariadb-client: mariadb-dump and mariadb for
# `sogoms backup` and `sogoms restore` (and the cron kind `backup`).
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends libmariadb3 mariadb-client \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 sogoms \
    && useradd --system --uid 10001 --gid sogoms --home-dir /app --shell /usr/sbin/nologin sogoms

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    SOGOMS_BASE_DIR=/app \
    SOGOMS_CONFIG_DIR=/app/config \
    SOGOMS_VAR_DIR=/app/var \
    SOGOMS_STATIC_ROOT=/app/static \
    SOGOMS_METRICS_DIR=/tmp/sogoms-metrics \
    SOGOMS_HTTP_BIND=0.0.0.0:8000 \
    SOGOMS_SOCKET_BIND=0.0.0.0:8001 \
    SOGOMS_BUILD_COMMIT=${SOGOMS_BUILD_COMMIT}

COPY --from=builder /opt/venv /opt/venv
WORKDIR /app
# The code and the static files belong to root: the process may write only under var/.
COPY --from=builder /src ./
COPY --from=builder /opt/static ./static
COPY --from=builder /src/deploy/container /opt/sogoms-container
RUN ln -s /opt/sogoms-container/entrypoint.sh /usr/local/bin/sogoms-container \
    && install -d -o sogoms -g sogoms -m 0750 /app/var

USER 10001:10001
EXPOSE 8000 8001
VOLUME ["/app/var"]
# http and socket answer /health; a worker answers a Celery ping; beat is its process.
HEALTHCHECK --interval=30s --timeout=15s --start-period=30s --retries=3 \
    CMD ["sogoms-container", "healthcheck"]
ENTRYPOINT ["sogoms-container"]
CMD ["http"]
