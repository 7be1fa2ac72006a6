#!/usr/bin/env bash
# cmake --install into a scratch prefix, then configure, build and run a
# downstream project that finds it with find_package(modelzoo).
# Usage: install_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1 src=$2
work="$build/install_test"
rm -rf "$work"   # a fresh prefix and consumer build every run
mkdir -p "$work"
cmake --install "$build" --prefix "$work/prefix" >/dev/null
test -f "$work/prefix/include/modelzoo/modelzoo.h"
test -f "$work/prefix/share/modelzoo/registry/vgg.json"
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake -S "$src/tests/install/consumer" -B "$work/consumer" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$work/prefix" "${launcher[@]}" >/dev/null
cmake --build "$work/consumer" >/dev/null
out=$(env -u MODELZOO_REGISTRY "$work/consumer/consumer")
echo "$out"
grep -qx "models 80" <<<"$out"
grep -qx "vgg19 IMAGENET1K_V1 dcbb9e9dad569fff7a846263a77324fc34978fea2bfb039c012d710e1776ae44" <<<"$out"
grep -qx "vgg11 logits 1x1000" <<<"$out"
grep -qx "resnet18 logits 1x1000" <<<"$out"
echo "installed package found and used downstream"
