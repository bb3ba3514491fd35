#!/usr/bin/env bash
# Builds llama.cpp's OpenAI-compatible server (`llama-server`) for tests/remote and
# bench/remote_bench.py into DIR (default ~/.cache/qcn-llama), from the llama.cpp sources vendored
# in llama-cpp-python's source distribution on PyPI (registries only; nothing else is fetched:
# the prebuilt web UI download and curl are switched off). Only the server target is built,
# Release, no tests/examples, -j2. The sdist also carries convert_hf_to_gguf.py and gguf-py, which
# the tests use to make a GGUF. Re-running with everything in place does nothing.
set -euo pipefail
DIR="${1:-$HOME/.cache/qcn-llama}"
VERSION=0.3.36
PY="${PYTHON:-python3}"
SRC="$DIR/src/llama_cpp_python-$VERSION/vendor/llama.cpp"
BIN="$DIR/build-$VERSION/bin/llama-server"

if [ -x "$BIN" ] && [ -f "$SRC/convert_hf_to_gguf.py" ]; then
  echo "llama-server (llama-cpp-python $VERSION) is already built: $BIN"
  exit 0
fi

need=()
for tool in cmake g++ make; do command -v "$tool" >/dev/null 2>&1 || need+=("$tool")
done
if [ "${#need[@]}" -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo -n"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends cmake g++ make
fi

mkdir -p "$DIR/src"
cd "$DIR/src"
if [ ! -f "$SRC/CMakeLists.txt" ]; then
  "$PY" -m pip download --quiet --no-deps --no-binary :all: "llama-cpp-python==$VERSION" -d .
  tar xzf "llama_cpp_python-$VERSION.tar.gz"
fi

cmake -S "$SRC" -B "$DIR/build-$VERSION" -DCMAKE_BUILD_TYPE=Release \
  -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=ON -DLLAMA_BUILD_TOOLS=ON \
  -DLLAMA_BUILD_APP=OFF -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF \
  -DBUILD_SHARED_LIBS=OFF -DGGML_NATIVE=ON
cmake --build "$DIR/build-$VERSION" --target llama-server -j "${JOBS:-2}"
test -x "$BIN"
echo "built $BIN"
