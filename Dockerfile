# digest: `digest serve` by default; `digest schedule run` with another command (compose.yaml).
# The database and digest.toml live in /data, a volume: the image holds no state.

FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY digest ./digest
COPY templates ./templates
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DIGEST_DB=/data/subscribers.db
# A system user with a fixed uid, so a host folder mounted on /data can be given to it.
RUN useradd --system --uid 10001 --user-group --home-dir /data --shell /usr/sbin/nologin digest \
    && mkdir -p /data && chown digest:digest /data
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
USER digest
# ./digest.toml is read from the working directory: put it in the volume.
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8080
# /healthz answers once the database does. Python, since the slim image has no curl.
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4).status != 200)"]
STOPSIGNAL SIGTERM
CMD ["digest", "serve", "--host", "0.0.0.0", "--port", "8080", "--log-format", "json"]
