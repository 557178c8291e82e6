#!/usr/bin/env bash
# Idempotent set-up for a fresh machine: two virtual environments beside the code.
#   .venv     the project (dataset_builder, its tests and benchmarks)
#   .venv-ls  Label Studio itself (it pins many packages, so it lives apart)
# Each is (re)installed only when missing or when its requirements changed. The project's
# dependencies are pinned by constraints.txt (regenerate: .venv/bin/pip freeze --exclude-editable),
# so outputs are byte-identical across machines: parquet and PNG bytes depend on library versions.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
LABEL_STUDIO_VERSION="1.23.2"
# Label Studio's PostgreSQL driver (it asks for psycopg[binary]>=3.2,<4): pinned, as tested.
PSYCOPG_VERSION="3.3.9"

stamp_of() { sha256sum "$@" | sha256sum | cut -c1-16; }

want=$(stamp_of pyproject.toml constraints.txt)
if [ "$(cat .venv/.stamp 2>/dev/null)" != "$want" ]; then
  echo "setup: installing the project into .venv" >&2
  "$PYTHON" -m venv .venv
  .venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip 2>&1 | grep -v '^WARNING: Location' >&2 || true
  .venv/bin/python -m pip install -q --disable-pip-version-check -c constraints.txt -e '.[test,bench]' 2>&1 | grep -v '^WARNING: Location' >&2 || true
  .venv/bin/python -c "import dataset_builder, datasets, label_studio_sdk, sklearn" # fail here if the install failed
  echo "$want" > .venv/.stamp
fi

ls_want="$LABEL_STUDIO_VERSION psycopg $PSYCOPG_VERSION"
if [ "$(cat .venv-ls/.stamp 2>/dev/null)" != "$ls_want" ]; then
  echo "setup: installing label-studio==$LABEL_STUDIO_VERSION into .venv-ls (a few minutes, once)" >&2
  "$PYTHON" -m venv .venv-ls
  .venv-ls/bin/python -m pip install -q --disable-pip-version-check --upgrade pip 2>&1 | grep -v '^WARNING: Location' >&2 || true
  .venv-ls/bin/python -m pip install -q --disable-pip-version-check "label-studio==$LABEL_STUDIO_VERSION" \
    "psycopg[binary]==$PSYCOPG_VERSION" 2>&1 | grep -v '^WARNING: Location' >&2 || true
  test -x .venv-ls/bin/label-studio
  .venv-ls/bin/python -c "import psycopg" # fail here if the PostgreSQL driver is missing
  echo "$ls_want" > .venv-ls/.stamp
fi

# The browser tests (tests/test_browser.py) drive Debian's Chromium through its chromedriver; a
# test tool's own browser download does not work on these machines. The emoji font is only for
# faithful screenshots. Installed only when missing; needs root (CI runs as root).
if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
  if [ "$(id -u)" = "0" ]; then
    echo "setup: installing chromium and chromium-driver from Debian (browser tests)" >&2
    apt-get update -q >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver fonts-noto-color-emoji >&2
  else
    echo "setup: /usr/bin/chromium or /usr/bin/chromedriver is missing and this is not root, so they are not" \
         "installed; the browser tests will be skipped (and fail under CI=true). Install them with:" \
         "sudo apt-get install chromium chromium-driver fonts-noto-color-emoji" >&2
  fi
fi

# The PostgreSQL half of the Label Studio tests (tests/conftest.py, tests/test_postgres.py) and
# benchmarks/push_pg.py start a throwaway PostgreSQL server from Debian's binaries
# (/usr/lib/postgresql/<version>/bin) in a temporary folder: the system service is not used.
# Installed only when missing; needs root (CI runs as root).
if ! compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null && ! command -v initdb >/dev/null; then
  if [ "$(id -u)" = "0" ]; then
    echo "setup: installing postgresql from Debian (Label Studio on PostgreSQL tests)" >&2
    apt-get update -q >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >&2
  else
    echo "setup: PostgreSQL's initdb is missing and this is not root, so it is not installed; the PostgreSQL" \
         "tests will be skipped (and fail under CI=true). Install it with: sudo apt-get install postgresql" >&2
  fi
fi
