#!/usr/bin/env bash
# Refresh the map libraries the web page ships (src/geobatch/web/static/vendor/) from the npm
# registry: Leaflet (BSD-2-Clause) and Supercluster (ISC, with KDBush bundled in its build).
# The page loads nothing from a CDN, so these files are part of the Python package; users never
# run npm. Run by a developer when upgrading, then commit the result:
#   bash scripts/update-web-vendor.sh [LEAFLET_VERSION] [SUPERCLUSTER_VERSION] [KDBUSH_VERSION]
set -euo pipefail
cd "$(dirname "$0")/.."
LEAFLET=${1:-1.9.4}
SUPERCLUSTER=${2:-9.1.0}
KDBUSH=${3:-4.1.0}  # only for its licence: supercluster's dist file bundles it
VENDOR=src/geobatch/web/static/vendor
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

fetch() {  # fetch NAME VERSION: unpack the package's tarball into $work/NAME
    (cd "$work" && npm pack --silent "$1@$2" >/dev/null)
    mkdir -p "$work/$1"
    tar xzf "$work/$1-$2.tgz" -C "$work/$1" --strip-components=1
}
fetch leaflet "$LEAFLET"
fetch supercluster "$SUPERCLUSTER"
fetch kdbush "$KDBUSH"

rm -rf "$VENDOR"
mkdir -p "$VENDOR/leaflet/images" "$VENDOR/supercluster"
cp "$work/leaflet/dist/leaflet.js" "$work/leaflet/dist/leaflet.css" "$VENDOR/leaflet/"
cp "$work/leaflet/dist/images/"*.png "$VENDOR/leaflet/images/"
cp "$work/leaflet/LICENSE" "$VENDOR/leaflet/LICENSE"
cp "$work/supercluster/dist/supercluster.min.js" "$VENDOR/supercluster/"
cp "$work/supercluster/LICENSE" "$VENDOR/supercluster/LICENSE"
cp "$work/kdbush/LICENSE" "$VENDOR/supercluster/LICENSE-kdbush"
cat > "$VENDOR/VERSIONS" <<TXT
leaflet $LEAFLET BSD-2-Clause
supercluster $SUPERCLUSTER ISC
kdbush $KDBUSH ISC (bundled in supercluster.min.js)
TXT
echo "vendored into $VENDOR:"
cat "$VENDOR/VERSIONS"
