#!/usr/bin/env bash
# Creates the virtual environment (if missing) and installs tunelog with its dev extra, pinned by
# constraints.txt. Quiet unless something goes wrong.
set -euo pipefail
venv=${1:-.venv}
python=${PYTHON:-python3}
[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
log=$(mktemp)
if ! "$venv/bin/python" -m pip install -q --disable-pip-version-check -c constraints.txt -e '.[dev]' >"$log" 2>&1; then
  grep -v 'WARNING: Location' "$log" >&2 || true
  rm -f "$log"
  echo "Installing tunelog's packages into $venv failed (output above). Check the network to the package index." >&2
  exit 1
fi
rm -f "$log"
