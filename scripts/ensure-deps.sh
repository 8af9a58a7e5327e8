#!/usr/bin/env bash
# Installs what the demo and the tests need, only where it is missing:
#  - OS packages (Debian 12): Orthanc + its DICOMweb plugin, Redis, dcmtk (dsrdump), dicom3tools (dciodvfy),
#    chromium (the OHIF browser test drives Debian's own Chromium; no browser is downloaded)
#  - npm packages (npm ci; the `prepare` script compiles TypeScript into dist/)
# Safe to run repeatedly. Needs root (or sudo) only when OS packages are missing.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v Orthanc >/dev/null 2>&1 || [ -x /usr/sbin/Orthanc ] || missing+=(orthanc)
[ -f /usr/share/orthanc/plugins/libOrthancDicomWeb.so ] || missing+=(orthanc-dicomweb)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v dsrdump >/dev/null 2>&1 || missing+=(dcmtk)
command -v dciodvfy >/dev/null 2>&1 || missing+=(dicom3tools)
[ -x /usr/bin/chromium ] || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ]; then
  echo "ainode: installing OS packages: ${missing[*]}" >&2
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null 2>&1 || {
    $SUDO apt-get update >/dev/null
    $SUDO apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null
  }
fi

# onnxruntime-node's own install script would download the CUDA provider from outside the npm
# registry; the CPU provider ships inside the package. GPU images install the CUDA provider
# themselves (docs/deployment.md).
export ONNXRUNTIME_NODE_INSTALL=skip
stamp=node_modules/.ainode-lock-stamp
if [ ! -d node_modules ] || [ ! -f "$stamp" ] || ! cmp -s package-lock.json "$stamp"; then
  echo "ainode: installing npm packages (npm ci)" >&2
  npm ci --no-audit --no-fund >&2
  cp package-lock.json "$stamp"
fi
npm run --silent build >&2
# The pinned, integrity-checked prebuilt OHIF viewer for the browser test and `ainode viewer`.
bash scripts/fetch-ohif.sh >/dev/null
