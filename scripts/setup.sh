#!/usr/bin/env bash
# Installs what modelzoo needs to build and test on Debian bookworm (apt-get),
# then configures and builds it into ${BUILD_DIR:-build}.
# Usage: scripts/setup.sh [cmake target...]
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  build-essential cmake ccache pkg-config
  libtorch-dev libcurl4-openssl-dev libssl-dev zlib1g-dev nlohmann-json3-dev
  libdnnl-dev libgtest-dev libgmock-dev libcli11-dev libjpeg62-turbo-dev libpng-dev
  nginx openssl curl
  python3-torch python3-torchvision
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "== installing: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# Node and npm for the Hub cache interoperability test (tests/hf/npm): only
# when the commands are missing (a Node from another source ships its own npm,
# which Debian's npm package conflicts with). Without them that test skips.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  want=()
  command -v node >/dev/null || want+=(nodejs)
  command -v npm >/dev/null || want+=(npm)
  echo "== installing: ${want[*]}"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${want[@]}" ||
    echo "== could not install ${want[*]}: the Hub interoperability test will skip"
fi

BUILD_DIR=${BUILD_DIR:-build}
# Paths relative to the checkout, so ccache hits across clones of the project.
export CCACHE_BASEDIR=$PWD
JOBS=${JOBS:-$(nproc)}
echo "== configuring ${BUILD_DIR}"
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release >/dev/null
echo "== building ${*:-all} with ${JOBS} jobs"
if [ $# -gt 0 ]; then
  for t in "$@"; do cmake --build "$BUILD_DIR" --target "$t" -j "$JOBS"; done
else
  cmake --build "$BUILD_DIR" -j "$JOBS"
fi
