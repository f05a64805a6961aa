# geobatch: the HTTP service (Bing Maps Dataflow and Locations, Geocode.Farm, Nominatim APIs)
# with the compiled engine. Index and job data live in the volume /var/lib/geobatch.
#
#   docker build -t geobatch .
#   docker run -d -p 8080:8080 -v geobatch:/var/lib/geobatch --name geobatch geobatch
#   docker exec geobatch geobatch keys create --name me
#
# See docs/deploy.md.

FROM python:3.11-slim-bookworm AS build
# gcc and the C library headers for mypyc: the wheel's engine is compiled (setup.py).
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml setup.py README.md ./
COPY src ./src
# A wheel without the compiled engine would be 1.7x slower: fail the build instead.
ENV GEOBATCH_REQUIRE_NATIVE=1
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    GEOBATCH_INDEX=/var/lib/geobatch/index \
    GEOBATCH_DATA_DIR=/var/lib/geobatch/data
RUN groupadd --system --gid 10001 geobatch \
    && useradd --system --uid 10001 --gid 10001 --create-home --home-dir /var/lib/geobatch geobatch
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/geobatch-*.whl && rm -rf /wheels
USER 10001:10001
WORKDIR /var/lib/geobatch
VOLUME ["/var/lib/geobatch"]
EXPOSE 8080
# The first start builds the built-in gazetteer into the volume (about 15 s), then loads it.
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4).status != 200)"]
ENTRYPOINT ["geobatch"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8080"]
