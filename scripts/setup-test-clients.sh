#!/usr/bin/env bash
# Creates (once) the Python virtual environment with the real `openai` and
# `ollama` client packages that crates/server/tests drive the server with:
# ~/.cache/hearth/venv-clients, or $HEARTH_CLIENTS_VENV. Idempotent: a venv
# that already imports both packages is left alone.
set -euo pipefail
VENV="${HEARTH_CLIENTS_VENV:-$HOME/.cache/hearth/venv-clients}"
if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c 'import openai, ollama, pydantic, jsonschema' 2>/dev/null; then
    exit 0
fi
mkdir -p "$(dirname "$VENV")"
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
# pydantic (chat.completions.parse, format schemas) and jsonschema (checking
# structured output) for the structured-output tests
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check 'openai>=1.40,<3' 'ollama>=0.5,<1' 'pydantic>=2,<3' 'jsonschema>=4,<5'
"$VENV/bin/python" -c 'import openai, ollama, pydantic, jsonschema; print("clients:", openai.__version__, ollama.__version__ if hasattr(ollama, "__version__") else "ok")'
