#!/usr/bin/env bash
# What the chat page's browser test needs (crates/hearth/tests/web_page.rs):
# Debian's Chromium (/usr/bin/chromium, from apt) and playwright-core from
# the npm registry (which drives it; it downloads no browser of its own),
# installed into ~/.cache/hearth/web-test (or $HEARTH_WEB_TEST_DIR) with
# npm's cache under ~/.cache/hearth/npm. Idempotent: does nothing when both
# are there. Needs Node.js and npm (only for this test: hearth itself never
# needs them).
set -euo pipefail
PLAYWRIGHT=1.65.2
DIR="${HEARTH_WEB_TEST_DIR:-$HOME/.cache/hearth/web-test}"

if ! [ -x /usr/bin/chromium ]; then
    if [ "$(id -u)" = 0 ]; then
        SUDO=""
    elif command -v sudo >/dev/null; then
        SUDO="sudo"
    else
        echo "setup-browser-test: /usr/bin/chromium is missing and this user cannot install it (apt-get install chromium)" >&2
        exit 1
    fi
    echo "setup-browser-test: installing Debian's chromium (once)"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    echo "setup-browser-test: node and npm are needed for the browser test (apt-get install nodejs npm)" >&2
    exit 1
fi

have=$(node -e "try{console.log(require('$DIR/node_modules/playwright-core/package.json').version)}catch{}" 2>/dev/null || true)
if [ "$have" != "$PLAYWRIGHT" ]; then
    echo "setup-browser-test: installing playwright-core $PLAYWRIGHT into $DIR (once)"
    mkdir -p "$DIR"
    [ -f "$DIR/package.json" ] || echo '{"private": true, "name": "hearth-web-test"}' > "$DIR/package.json"
    npm install --prefix "$DIR" --cache "${HEARTH_NPM_CACHE:-$HOME/.cache/hearth/npm}" \
        --no-audit --no-fund --loglevel=error "playwright-core@$PLAYWRIGHT"
fi
/usr/bin/chromium --version
echo "playwright-core $PLAYWRIGHT in $DIR"
