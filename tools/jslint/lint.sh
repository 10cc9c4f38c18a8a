#!/usr/bin/env bash
# The dashboard's JavaScript lint (`make lint-js`, part of `make lint`, not of `make test`):
# ESLint with its recommended rules, pinned by package-lock.json here and installed into
# tools/jslint/node_modules on first use (`npm ci`: the lock's tarballs, checked by their
# hashes). Where npm or its registry is missing or slow (5 minutes), it falls back to node's
# own parser, which checks each module's syntax only, and says so.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
dashboard="$here/../../api/static/dashboard"
eslint="$here/node_modules/.bin/eslint"

if [ ! -x "$eslint" ] && command -v npm >/dev/null; then
  timeout 300 npm ci --prefix "$here" --no-audit --no-fund --ignore-scripts --loglevel=error \
    || echo "lint-js: could not install ESLint with npm" >&2
fi
if [ -x "$eslint" ]; then
  exec "$eslint" --config "$here/eslint.config.js" "$dashboard"
fi
if ! command -v node >/dev/null; then
  echo "lint-js: neither ESLint nor node: apt-get install nodejs npm" >&2
  exit 1
fi
echo "lint-js: ESLint not installed; checking the modules' syntax only (node --check)" >&2
status=0
while IFS= read -r -d '' module; do
  node --input-type=module --check < "$module" || { echo "  in $module" >&2; status=1; }
done < <(find "$dashboard" -name '*.js' -print0)
exit $status
