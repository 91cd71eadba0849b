#!/usr/bin/env bash
# Creates (once) the Python virtual environment with the real client
# packages that crates/server/tests drive the server with: `openai`,
# `ollama`, `anthropic`, `prometheus_client` (its text-format parser reads
# /metrics) and `pydantic` (responses.parse): ~/.cache/hearth/venv-clients,
# or $HEARTH_CLIENTS_VENV. Idempotent: a venv that already imports them all
# is left alone; one that lacks some gets them added.
set -euo pipefail
VENV="${HEARTH_CLIENTS_VENV:-$HOME/.cache/hearth/venv-clients}"
CHECK='import openai, ollama, anthropic, prometheus_client, pydantic, jsonschema'
if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c "$CHECK" 2>/dev/null; then
    exit 0
fi
if [ ! -x "$VENV/bin/python" ]; then
    mkdir -p "$(dirname "$VENV")"
    python3 -m venv "$VENV"
fi
# pydantic (chat.completions.parse, format schemas) and jsonschema (checking
# structured output) for the structured-output tests
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
    'openai>=1.40,<3' 'ollama>=0.5,<1' 'anthropic>=0.40,<1' 'prometheus_client>=0.20,<1' \
    'pydantic>=2,<3' 'jsonschema>=4,<5'
"$VENV/bin/python" -c "$CHECK; print('clients:', openai.__version__, anthropic.__version__, pydantic.VERSION)"
