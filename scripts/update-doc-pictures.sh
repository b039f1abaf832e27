#!/usr/bin/env bash
# Regenerates the pictures in docs/ from the tests that take them, so they show what the code
# draws today. Builds and runs the screenshot-taking tests (offscreen, no display needed) into a
# temporary folder, then copies each picture to its name in docs/:
#   dashboard_tst_dashboard        dashboard-1280x800.png -> docs/dashboard.png
#                                  dashboard-800x480.png  -> docs/dashboard-800x480.png
#   dashboard_tst_dashboardgateway dashboard-errors.png   -> docs/dashboard-errors.png
# Usage: scripts/update-doc-pictures.sh [BUILD_DIR]   (default build/default, configured with
# `cmake --preset default`). Fails, copying nothing, when a test fails or a picture is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build/default}
if [[ ! -f "$build/CMakeCache.txt" ]]; then
  echo "update-doc-pictures: $build is not a configured build directory (cmake --preset default)" >&2
  exit 2
fi

# test name -> "artifact:docs-name ..."
declare -A pictures=(
  [dashboard_tst_dashboard]="dashboard-1280x800.png:dashboard.png dashboard-800x480.png:dashboard-800x480.png"
  [dashboard_tst_dashboardgateway]="dashboard-errors.png:dashboard-errors.png"
)
tests=("${!pictures[@]}")

cmake --build "$build" -j"${SWITCHBOARD_JOBS:-2}" --target "${tests[@]}"

artifacts=$(mktemp -d)
trap 'rm -rf "$artifacts"' EXIT
regex="^($(IFS='|'; echo "${tests[*]}"))\$"
(cd "$build" && SWITCHBOARD_TEST_ARTIFACTS="$artifacts" QT_QPA_PLATFORM=offscreen \
   ctest -R "$regex" --output-on-failure)

copies=()
for test in "${tests[@]}"; do
  for pair in ${pictures[$test]}; do
    from=${pair%%:*}
    to=${pair#*:}
    if [[ ! -s "$artifacts/$from" ]]; then
      echo "update-doc-pictures: $test did not write $from" >&2
      exit 1
    fi
    copies+=("$artifacts/$from:docs/$to")
  done
done
for copy in "${copies[@]}"; do
  cp "${copy%%:*}" "${copy#*:}"
  echo "updated ${copy#*:}"
done
