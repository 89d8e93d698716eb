#!/usr/bin/env bash
# Create the virtualenv and install the pinned dependencies.
# mysqlclient compiles against libmariadb: install it when we can (root with apt),
# otherwise say exactly what to run.
set -euo pipefail
python="${1:-python3}"
venv="${2:-.venv}"

if ! pkg-config --exists libmariadb 2>/dev/null && ! pkg-config --exists mysqlclient 2>/dev/null; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
    echo "installing libmariadb-dev and pkg-config (needed by mysqlclient)..."
    apt-get install -y -q libmariadb-dev pkg-config >/dev/null 2>&1 \
      || { apt-get update -q >/dev/null && apt-get install -y -q libmariadb-dev pkg-config >/dev/null; }
  else
    echo "mysqlclient needs the MariaDB client headers. Run:" >&2
    echo "  sudo apt-get install -y libmariadb-dev pkg-config" >&2
    exit 1
  fi
fi

if [ ! -x "$venv/bin/python" ]; then
  "$python" -m venv "$venv"
fi
"$venv/bin/python" -m pip install -q --upgrade pip
"$venv/bin/python" -m pip install -q -r requirements-dev.txt
echo "virtualenv ready in $venv"
