#!/usr/bin/env bash
# `make image-test`: build the Dockerfile with podman on a locally made Debian base, run the image, and check
# /healthz, the HEALTHCHECK, a routing decision and the image size. No container registry is needed:
# the base is a Debian root filesystem made with mmdebstrap from Debian packages and imported into podman,
# cached (LLMROUTE_IMAGE_CACHE, default ~/.cache/llmroute-image) so later runs skip it. pip inside the build
# reaches PyPI through --network=host.
#
# Installs what it needs (podman, runc, mmdebstrap) with apt-get when run as root; otherwise, with them
# missing, it says so and exits 0 (like the tests that skip without their system packages), unless
# LLMROUTE_IMAGE_TEST=require.
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE="${LLMROUTE_IMAGE_CACHE:-$HOME/.cache/llmroute-image}"
BASE_TAG="localhost/llmroute-base:bookworm"
IMAGE_TAG="localhost/llmroute:image-test"
SUITE="bookworm"
MIRROR="${LLMROUTE_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
MAX_IMAGE_MB=500
ARTIFACTS="${LLMROUTE_TEST_ARTIFACTS:-test-artifacts}/image"
mkdir -p "$CACHE" "$ARTIFACTS"

skip() {
    echo "image-test: SKIPPED: $*" >&2
    [ "${LLMROUTE_IMAGE_TEST:-}" = "require" ] && exit 1
    exit 0
}
step() { echo "image-test: $*"; }

# --- tools ------------------------------------------------------------------------------------------
missing=()
for tool in podman runc mmdebstrap; do command -v "$tool" >/dev/null 2>&1 || missing+=("$tool"); done
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
        step "installing ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get install -y -q --no-install-recommends podman runc mmdebstrap >/dev/null 2>&1 || {
            apt-get update -q >/dev/null
            apt-get install -y -q --no-install-recommends podman runc mmdebstrap >/dev/null
        }
    else
        skip "missing ${missing[*]} (as root: apt-get install podman runc mmdebstrap)"
    fi
fi

# podman as it runs on this kind of machine (a container or VM without systemd): runc, cgroupfs, no
# default ulimits. Our own file, so the machine's /etc/containers is left alone.
export CONTAINERS_CONF="$CACHE/containers.conf"
cat >"$CONTAINERS_CONF" <<'CONF'
[containers]
default_ulimits = []

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF

# --- the base image: Debian + Python 3.11, made here ------------------------------------------------
if ! podman image exists "$BASE_TAG"; then
    tarball="$CACHE/base-$SUITE.tar"
    if [ ! -s "$tarball" ]; then
        step "building a Debian $SUITE root filesystem with mmdebstrap (cached in $CACHE)"
        mmdebstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
            --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
            --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-include=/usr/share/locale/locale.alias' \
            "$SUITE" "$CACHE/partial.tar" "$MIRROR" >"$CACHE/mmdebstrap.log" 2>&1 \
            || { tail -20 "$CACHE/mmdebstrap.log" >&2; exit 1; }
        mv "$CACHE/partial.tar" "$tarball"  # mmdebstrap picks the output format from the .tar suffix
    fi
    step "importing the base as $BASE_TAG"
    podman import --change 'CMD ["/bin/bash"]' "$tarball" "$BASE_TAG" >/dev/null
fi

# --- build ------------------------------------------------------------------------------------------
step "building $IMAGE_TAG from Dockerfile (BASE_IMAGE=$BASE_TAG)"
started=$(date +%s)
# The build's pip trusts this machine's CA bundle (a TLS-inspecting proxy may sit between us and PyPI).
# Mounted for the RUN steps only (podman build -v): nothing of it ends up in the image.
host_ca=/etc/ssl/certs/ca-certificates.crt
build_mounts=()
if [ -s "$host_ca" ]; then
    printf '[global]\ncert = /run/host-ca-bundle.crt\n' >"$CACHE/pip.conf"
    build_mounts=(-v "$host_ca:/run/host-ca-bundle.crt:ro" -v "$CACHE/pip.conf:/etc/pip.conf:ro")
fi
podman build --network=host --format docker --build-arg "BASE_IMAGE=$BASE_TAG" "${build_mounts[@]}" \
    -t "$IMAGE_TAG" -f Dockerfile . >"$ARTIFACTS/build.log" 2>&1 \
    || { tail -30 "$ARTIFACTS/build.log" >&2; exit 1; }
step "built in $(($(date +%s) - started))s"
# Leftover build stages are the layer cache of the next run; drop only those older than a week.
podman image prune -f --filter until=168h >/dev/null 2>&1 || true

size=$(podman image inspect --format '{{.Size}}' "$IMAGE_TAG")
size_mb=$((size / 1000 / 1000))
step "image size ${size_mb} MB (limit ${MAX_IMAGE_MB} MB)"
[ "$size_mb" -lt "$MAX_IMAGE_MB" ] || { echo "image-test: FAILED: image is ${size_mb} MB" >&2; exit 1; }

user=$(podman image inspect --format '{{.Config.User}}' "$IMAGE_TAG")
[ -n "$user" ] && [ "$user" != "root" ] && [ "$user" != "0" ] \
    || { echo "image-test: FAILED: the image runs as root" >&2; exit 1; }

# --- run --------------------------------------------------------------------------------------------
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
name="llmroute-image-test-$$"
cleanup() { podman rm -f "$name" >/dev/null 2>&1 || true; }
trap cleanup EXIT
step "starting the container on port $port (config deploy/llmroute.yaml mounted at /etc/llmroute/llmroute.yaml)"
podman run -d --name "$name" --network=host -e "LLMROUTE_PORT=$port" -e LLMROUTE_WORKERS=2 \
    -v "$PWD/deploy/llmroute.yaml:/etc/llmroute/llmroute.yaml:ro" "$IMAGE_TAG" >/dev/null \
    2>"$ARTIFACTS/run.log"  # (without systemd podman says it cannot schedule health checks: we run one below)

url="http://127.0.0.1:$port"
for _ in $(seq 1 120); do
    if python3 -c "import urllib.request; urllib.request.urlopen('$url/healthz', timeout=2)" 2>/dev/null; then
        break
    fi
    if [ "$(podman inspect --format '{{.State.Running}}' "$name")" != "true" ]; then
        podman logs "$name" >&2 || true
        echo "image-test: FAILED: the container exited" >&2
        exit 1
    fi
    sleep 0.5
done
podman logs "$name" >"$ARTIFACTS/container.log" 2>&1 || true

python3 - "$url" <<'PY'
import json
import sys
import urllib.request

url = sys.argv[1]


def get(path: str) -> dict:
    with urllib.request.urlopen(url + path, timeout=10) as response:
        assert response.status == 200, (path, response.status)
        return json.loads(response.read())


def post(path: str, body: dict) -> tuple[dict, dict]:
    request = urllib.request.Request(
        url + path, json.dumps(body).encode(), {"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read()), dict(response.headers)


assert get("/healthz") == {"status": "ok"}
assert get("/readyz")["status"] == "ready"
decision, _ = post(
    "/routing/v1/chat/completions",
    {"messages": [{"role": "user", "content": "Write a Python function that reverses a linked list"}]},
)
assert decision["route"] == "code_generation", decision
answer, headers = post(
    "/v1/chat/completions", {"messages": [{"role": "user", "content": "Write a haiku about autumn"}]}
)
assert answer["choices"][0]["message"]["content"] == "echo: Write a haiku about autumn", answer
assert headers["x-llmroute-route"] == "creative_writing", headers
with urllib.request.urlopen(url + "/metrics", timeout=10) as response:  # two workers, one exposition
    assert b'llmroute_requests_total{endpoint="/v1/chat/completions"' in response.read()
print(f"image-test: decision {decision['route']} -> {decision['models']}; proxy {headers['x-llmroute-model']}")
PY

# The image's own HEALTHCHECK (what Docker and podman report as the container's health).
podman healthcheck run "$name" >/dev/null 2>&1 \
    || { echo "image-test: FAILED: the image's HEALTHCHECK failed" >&2; exit 1; }
whoami_in=$(podman exec "$name" id -u)
[ "$whoami_in" != "0" ] || { echo "image-test: FAILED: the gateway runs as root" >&2; exit 1; }
step "OK (healthz, readyz, decision, proxy, metrics, HEALTHCHECK, non-root uid $whoami_in, ${size_mb} MB)"
