#!/usr/bin/env bash
# Builds @sluice/router and @sluice/core as they were at a git revision into a directory, for
# BENCH_ROUTER_BASELINE (the "before" of a before/after run). The build uses this checkout's
# node_modules. Usage: bench/scripts/router-baseline.sh <revision> <directory>
# Prints the path to give BENCH_ROUTER_BASELINE.
set -euo pipefail
rev=${1:?usage: router-baseline.sh <revision> <directory>}
out=${2:?usage: router-baseline.sh <revision> <directory>}
root=$(git rev-parse --show-toplevel)
rm -rf "$out"
mkdir -p "$out"
git -C "$root" archive "$rev" packages/core packages/router tsconfig.base.json | tar -x -C "$out"
ln -s "$root/node_modules" "$out/node_modules"
ln -s "$root/packages/core/node_modules" "$out/packages/core/node_modules"
# The router's dependencies as installed here, but its @sluice/core is the one of <revision>.
mkdir -p "$out/packages/router/node_modules/@sluice"
for entry in "$root"/packages/router/node_modules/* "$root"/packages/router/node_modules/.bin; do
  [ "$(basename "$entry")" = "@sluice" ] || ln -s "$entry" "$out/packages/router/node_modules/"
done
ln -s "$out/packages/core" "$out/packages/router/node_modules/@sluice/core"
"$root/node_modules/.bin/tsc" -p "$out/packages/core/tsconfig.build.json"
"$root/node_modules/.bin/tsc" -p "$out/packages/router/tsconfig.build.json"
echo "$out/packages/router/dist/index.js"
