#!/usr/bin/env bash
# Install everything RadVoice needs on Debian 12: system packages and a virtual environment
# in .venv. Idempotent: a second run only checks. Needs root (or sudo) for apt-get.
set -euo pipefail
cd "$(dirname "$0")/.."

DEB_PACKAGES=(
  python3-venv
  # Qt + VTK under X (Xvfb for tests and headless machines)
  xvfb xauth libgl1 libegl1 libgl1-mesa-dri libxkbcommon0 libxkbcommon-x11-0 libxcb-cursor0
  libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0 libxcb-xinerama0
  libdbus-1-3 libfontconfig1 libxrender1 libxi6 libxrandr2 libglib2.0-0 fonts-dejavu-core
  # audio: PortAudio through PulseAudio (a null sink stands in for a microphone in tests)
  pulseaudio pulseaudio-utils libasound2-plugins libportaudio2 libsndfile1 sox
  # text to speech engines used by the corpus generator
  espeak-ng flite festival festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts
  # USB HID dictation microphones
  libhidapi-hidraw0
  # PACS: Orthanc (+ DICOMweb) for the tests, dciodvfy to validate exports, dcmtk for the benchmark
  orthanc orthanc-dicomweb dicom3tools dcmtk
)

missing=()
for p in "${DEB_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "[setup] installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "[setup] creating .venv"
  "$PY" -m venv .venv
fi
stamp=.venv/.radvoice-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "[setup] installing Python packages into .venv (torch comes from local wheels when present)"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e ".[dev]"
  touch "$stamp"
fi
echo "[setup] ready: .venv/bin/radvoice"
