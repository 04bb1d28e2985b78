#!/usr/bin/env bash
# Installs the real coding-agent clients the tests drive through the gateway (tests/test_agents_*.py)
# into .cache/agent-clients (ignored by git), pinned, once: later runs find them and return at once.
# Exit 3 (and a reason on stderr) when npm is missing, so the tests can skip with that reason.
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=.cache/agent-clients
CLAUDE_CODE=@anthropic-ai/claude-code@2.1.197
CODEX=@openai/codex@0.171.0
STAMP="$DIR/.installed-$(echo "$CLAUDE_CODE $CODEX" | tr '/@ ' '___')"
if [ -f "$STAMP" ] && [ -x "$DIR/node_modules/.bin/claude" ] && [ -x "$DIR/node_modules/.bin/codex" ]; then
    exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
    echo "npm is not installed: the coding-agent client tests need Node.js and npm" >&2
    exit 3
fi
mkdir -p "$DIR"
[ -f "$DIR/package.json" ] || echo '{"private": true}' > "$DIR/package.json"
# Both packages ship a prebuilt binary per platform as an optional dependency.
npm install --prefix "$DIR" --no-audit --no-fund --loglevel=error "$CLAUDE_CODE" "$CODEX" >&2
rm -f "$DIR"/.installed-*
touch "$STAMP"
