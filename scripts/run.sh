#!/usr/bin/env bash
# Set up (if needed) and open the RadVoice app on its embedded default case.
# Without a screen (no $DISPLAY) the app runs on a private Xvfb display.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
  echo "[run] no display found: starting the app on a virtual screen (xvfb-run)"
  exec xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/radvoice "$@"
fi
exec .venv/bin/radvoice "$@"
