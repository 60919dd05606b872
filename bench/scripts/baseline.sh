#!/usr/bin/env bash
# Builds one Sluice package (router or cache) and its @sluice/core as they were at a git
# revision into a directory: the "before" of a before/after bench run. The build uses this
# checkout's node_modules. Usage: bench/scripts/baseline.sh <router|cache> <revision> <directory>
# Prints the path to give BENCH_ROUTER_BASELINE or BENCH_CACHE_BASELINE.
set -euo pipefail
package=${1:?usage: baseline.sh <router|cache> <revision> <directory>}
rev=${2:?usage: baseline.sh <router|cache> <revision> <directory>}
out=${3:?usage: baseline.sh <router|cache> <revision> <directory>}
case "$package" in router | cache) ;; *) echo "baseline.sh: package must be router or cache" >&2; exit 2 ;; esac
root=$(git rev-parse --show-toplevel)
rm -rf "$out"
mkdir -p "$out"
git -C "$root" archive "$rev" packages/core "packages/$package" tsconfig.base.json | tar -x -C "$out"
ln -s "$root/node_modules" "$out/node_modules"
# core's dependencies as installed here, plus any the revision's core had that a sibling now
# holds (the OpenTelemetry API moved to @sluice/observability).
mkdir -p "$out/packages/core/node_modules"
for entry in "$root/packages/core"/node_modules/* "$root/packages"/*/node_modules/@opentelemetry; do
  [ -e "$out/packages/core/node_modules/$(basename "$entry")" ] || ln -s "$entry" "$out/packages/core/node_modules/"
done
# The package's dependencies as installed here, but its @sluice/core is the one of <revision>.
mkdir -p "$out/packages/$package/node_modules/@sluice"
for entry in "$root/packages/$package"/node_modules/* "$root/packages/$package"/node_modules/.bin; do
  [ "$(basename "$entry")" = "@sluice" ] || ln -s "$entry" "$out/packages/$package/node_modules/"
done
ln -s "$out/packages/core" "$out/packages/$package/node_modules/@sluice/core"
"$root/node_modules/.bin/tsc" -p "$out/packages/core/tsconfig.build.json"
"$root/node_modules/.bin/tsc" -p "$out/packages/$package/tsconfig.build.json"
echo "$out/packages/$package/dist/index.js"
