# The NPO integration worker. Build: docker build -t spotlight/npo-integration .
FROM python:3.11-slim

RUN useradd --create-home --uid 10001 npo
WORKDIR /app
COPY pyproject.toml README.md ./
COPY npo_integration ./npo_integration
RUN pip install --no-cache-dir . && rm -rf /root/.cache

USER npo
# Owned by npo in the image, so a volume mounted here (compose, Kubernetes) starts writable by it.
RUN mkdir -p /home/npo/data
ENV NPO_DATA_DIR=/home/npo/data \
    NPO_WEB_HOST=0.0.0.0 \
    PYTHONUNBUFFERED=1
EXPOSE 6066
ENTRYPOINT ["npo-integration"]
CMD ["worker", "-l", "info"]
