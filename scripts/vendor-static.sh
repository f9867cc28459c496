#!/usr/bin/env bash
# Copies the pages' script from the npm package pinned in package.json / package-lock.json into the
# package's static folder, with its licence. The copy is committed: the service runs from a fresh clone or a
# wheel without npm and without any CDN; run this (make vendor) after changing the pinned version.
set -euo pipefail
cd "$(dirname "$0")/.."
npm ci --no-audit --no-fund --loglevel=error
target=parcours/http/web/static/vendor
mkdir -p "$target"
cp node_modules/htmx.org/dist/htmx.min.js "$target/htmx.min.js"
cp node_modules/htmx.org/LICENSE "$target/htmx.LICENSE"
echo "htmx $(node -p "require('./node_modules/htmx.org/package.json').version") copié dans $target"
