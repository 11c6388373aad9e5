# Sourced by bin/run and bin/test: make .venv exist and match the given requirements file.
# Reinstalls only when the requirements files changed since the last install.
ensure_venv() {
  local requirements=$1
  local python=${PYTHON:-}
  if [ -z "$python" ]; then
    python=$(command -v python3.11 || command -v python3)
  fi
  if [ ! -x .venv/bin/python ]; then
    echo "== creating .venv with $python"
    "$python" -m venv .venv
  fi
  local stamp=.venv/.installed-$(basename "$requirements")
  local wanted
  wanted=$(cat requirements*.txt | sha256sum | cut -c1-16)
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$wanted" ]; then
    echo "== installing $requirements into .venv"
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -r "$requirements"
    echo "$wanted" > "$stamp"
  fi
  export PATH="$PWD/.venv/bin:$PATH"
}
