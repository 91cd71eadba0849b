#!/usr/bin/env bash
# The chat page's third-party files (crates/server/web/vendor/), taken from
# the npm registry at pinned versions: marked (Markdown) and highlight.js
# (syntax highlighting, its pre-built ES module of common languages and the
# GitHub light/dark themes). The page uses them as they are: no build step,
# no Node.js needed to build or run hearth.
#
#   scripts/web-vendor.sh          rewrite vendor/ from the registry
#   scripts/web-vendor.sh --check  fail when vendor/ differs from what the
#                                  pinned versions give (scripts/test.sh runs it)
#
# npm's cache lives under ~/.cache/hearth/npm.
set -euo pipefail
cd "$(dirname "$0")/.."

MARKED=18.3.0
HLJS=11.12.0
OUT=crates/server/web/vendor
CHECK=0
[ "${1:-}" = "--check" ] && CHECK=1

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export npm_config_cache="${HEARTH_NPM_CACHE:-$HOME/.cache/hearth/npm}"
(cd "$work" && npm pack --silent "marked@$MARKED" "@highlightjs/cdn-assets@$HLJS" >/dev/null)
mkdir -p "$work/m" "$work/h" "$work/out"
tar xzf "$work/marked-$MARKED.tgz" -C "$work/m"
tar xzf "$work/highlightjs-cdn-assets-$HLJS.tgz" -C "$work/h"

o="$work/out"
# the source map comment would make a browser's developer tools ask for a file we do not ship
grep -v '^//# sourceMappingURL=' "$work/m/package/lib/marked.esm.js" > "$o/marked.esm.js"
cp "$work/m/package/LICENSE" "$o/LICENSE.marked"
cp "$work/h/package/es/highlight.min.js" "$o/highlight.min.js"
cp "$work/h/package/LICENSE" "$o/LICENSE.highlight.js"
{
    echo "/* highlight.js $HLJS themes: GitHub (light) and GitHub Dark, following the system. BSD-3-Clause, see LICENSE.highlight.js. */"
    echo "@media (prefers-color-scheme: light) {"
    cat "$work/h/package/styles/github.min.css"
    echo "}"
    echo "@media (prefers-color-scheme: dark) {"
    cat "$work/h/package/styles/github-dark.min.css"
    echo "}"
} > "$o/hljs-theme.css"
cat > "$o/README.md" <<EOF
Third-party files of the chat page, unchanged from the npm registry (made by
scripts/web-vendor.sh; do not edit by hand):

| file | package | license |
| --- | --- | --- |
| marked.esm.js | marked $MARKED (lib/marked.esm.js, source-map comment removed) | MIT, LICENSE.marked |
| highlight.min.js | @highlightjs/cdn-assets $HLJS (es/highlight.min.js: highlight.js with its common languages) | BSD-3-Clause, LICENSE.highlight.js |
| hljs-theme.css | @highlightjs/cdn-assets $HLJS (styles/github.min.css, styles/github-dark.min.css) | BSD-3-Clause, LICENSE.highlight.js |
EOF

if [ "$CHECK" = 1 ]; then
    if ! diff -r "$o" "$OUT" >/dev/null; then
        diff -r "$o" "$OUT" | head -20 >&2 || true
        echo "web-vendor: $OUT differs from marked $MARKED / highlight.js $HLJS; run scripts/web-vendor.sh" >&2
        exit 1
    fi
    echo "web-vendor: $OUT matches marked $MARKED and highlight.js $HLJS"
    exit 0
fi
rm -rf "$OUT"
mkdir -p "$OUT"
cp "$o"/* "$OUT"/
echo "web-vendor: wrote $OUT"
