# One image for every Pasokh service; the command picks which one runs:
#   docker run IMAGE            → intake (HTTP API on 8000)
#   docker run IMAGE router     → router worker (/healthz, /readyz, /metrics on 8001)
#   docker run IMAGE notifier   → notifier worker (same pages on 8002)
#   docker run IMAGE topics     → create the Kafka topics once, then exit
# Configuration is by PASOKH_* environment variables (see README.md); services inside a container
# must listen on 0.0.0.0 (PASOKH_INTAKE__HOST etc.), which docker-compose.yml sets.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

# An unprivileged user that owns only the data directory.
RUN groupadd --system --gid 10001 pasokh \
    && useradd --system --uid 10001 --gid pasokh --home-dir /var/lib/pasokh --no-create-home \
        --shell /usr/sbin/nologin pasokh \
    && install -d -o pasokh -g pasokh -m 0750 /var/lib/pasokh

WORKDIR /src

# Dependencies first: this layer is rebuilt only when pyproject.toml changes, not on every code edit.
# The pinned list is read from [project].dependencies so it cannot drift from pyproject.toml.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

# Then the project itself (no dependency resolution: they are all installed above).
COPY README.md ./
COPY services/ services/
COPY intake/ intake/
COPY router/ router/
COPY notifier/ notifier/
COPY pasokh/ pasokh/
RUN pip install --no-deps . \
    && pip check \
    && rm -rf /src/build /src/*.egg-info

USER pasokh
WORKDIR /var/lib/pasokh
ENV PASOKH_DATA_DIR=/var/lib/pasokh

EXPOSE 8000 8001 8002

ENTRYPOINT ["pasokh"]
CMD ["intake"]
