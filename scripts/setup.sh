#!/usr/bin/env bash
# Idempotent environment setup for the course: Debian packages (apt.txt), then .venv with
# torch 2.14.1 + torchaudio 2.11.0 and the course_lib package with its test extras.
# Re-running is cheap: each step checks before it acts.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
VENV=${VENV:-.venv}

# 1. System packages (the corpus renders speech with festival/flite and music with fluidsynth).
#    NO_SYSTEM_PACKAGES=1 skips them: a laptop that cannot install them (macOS, say) takes its corpus
#    and checkpoints from a room kit instead (`make unkit KIT=…`, scripts/room_kit.py).
#    The choice is remembered in the venv, so later `make` targets need not repeat it.
[ -f "$VENV/.no-system-packages" ] && NO_SYSTEM_PACKAGES=1
missing=()
if [ "${NO_SYSTEM_PACKAGES:-0}" = 1 ]; then
  echo "NO_SYSTEM_PACKAGES=1 (kept in $VENV/.no-system-packages; delete it to check again): not checking" \
       "apt.txt; without those packages this machine cannot render a corpus: unpack a room kit (make unkit KIT=…)"
fi
while read -r pkg; do
  [ -z "$pkg" ] && continue
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
done < <([ "${NO_SYSTEM_PACKAGES:-0}" = 1 ] || grep -hv '^#' apt.txt apt-test.txt)  # apt-test.txt: the browser test's Chromium
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing Debian packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "missing system packages: ${missing[*]}" >&2
    echo "install them with: sudo apt-get install ${missing[*]}  (or use conda/Binder: environment.yml + apt.txt;" \
         "or, where they cannot be installed, run with NO_SYSTEM_PACKAGES=1 and unpack a room kit: make unkit KIT=…)" >&2
    exit 1
  fi
fi

# 2. Virtual environment with torch first (pinned; pip takes it from the local wheel cache when present).
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
[ "${NO_SYSTEM_PACKAGES:-0}" = 1 ] && touch "$VENV/.no-system-packages"
stamp="$VENV/.course-installed"
want="$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  # torch's CUDA build unpacks to about 6.5 GB: say so plainly instead of failing half-way with ENOSPC.
  if ! "$VENV/bin/python" -c "import torch" 2>/dev/null; then
    free_gb=$(df -Pk "$VENV" | awk 'NR==2 {print int($4 / 1048576)}')
    if [ "$free_gb" -lt 8 ]; then
      echo "setup needs about 8 GB free for torch and the course packages; $(df -Ph "$VENV" | awk 'NR==2 {print $4}')" \
           "free on the filesystem of $VENV. Free some space (old clones, pip cache: pip cache purge) and re-run." >&2
      exit 1
    fi
  fi
  "$VENV/bin/pip" install -q --disable-pip-version-check "torch==2.14.1" "torchaudio==2.11.0" 2>&1 | grep -v '^WARNING: Location' || true
  "$VENV/bin/pip" install -q --disable-pip-version-check -e ".[test,lab]" 2>&1 | grep -v '^WARNING: Location' || true
  "$VENV/bin/python" -c "import torch, torchaudio, course_lib, auraloss, pesq, pystoi, papermill, nbval, transformers, voila, selenium" \
    || { echo "setup failed: the venv cannot import the course's packages" >&2; exit 1; }
  "$VENV/bin/python" -m ipykernel install --sys-prefix --name course --display-name "Train the Interface (course)" >/dev/null
  echo "$want" > "$stamp"
fi
