#!/usr/bin/env bash
# Fetches the prebuilt OHIF viewer (npm package @ohif/app, its dist/ folder) into run/ohif/<version>
# and prints the dist/ path. The version is pinned; the tarball is checked against the registry's
# sha512 integrity before it is unpacked. Nothing of OHIF is committed to this repository
# (OHIF is MIT-licensed; its LICENSE is unpacked beside dist/).
set -euo pipefail
cd "$(dirname "$0")/.."
version="${AINODE_OHIF_VERSION:-3.13.2}"
dest="run/ohif/$version"
if [ -f "$dest/package/dist/index.html" ]; then echo "$PWD/$dest/package/dist"; exit 0; fi
mkdir -p "$dest"
echo "ainode: fetching @ohif/app@$version from the npm registry" >&2
tgz=$(cd "$dest" && npm pack --silent "@ohif/app@$version")
want=$(npm view "@ohif/app@$version" dist.integrity)
got="sha512-$(openssl dgst -sha512 -binary "$dest/$tgz" | base64 -w0)"
if [ "$want" != "$got" ]; then
  echo "ainode: @ohif/app@$version tarball integrity mismatch (registry $want, file $got)" >&2
  rm -f "$dest/$tgz"; exit 1
fi
tar xzf "$dest/$tgz" -C "$dest"
rm -f "$dest/$tgz"
echo "$PWD/$dest/package/dist"
