#!/usr/bin/env bash
# usage: template_out_of_tree.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1 source=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix

cmake --install "$build" --prefix "$prefix" > "$work/install.log"
test -x "$prefix/bin/s4t"
test -f "$prefix/lib/cmake/s4t/s4tConfig.cmake"
test -f "$prefix/include/s4t/sdk.hpp"
ls "$prefix"/lib/s4t/plugins/resnet.so > /dev/null

cp -r "$source/examples/plugin_template" "$work/template"
cmake -S "$work/template" -B "$work/template/build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$prefix" > "$work/configure.log" || { cat "$work/configure.log"; exit 1; }
cmake --build "$work/template/build" -j 2 > "$work/build.log" || { cat "$work/build.log"; exit 1; }

cd "$work/template"
# The installed host finds its own plugins under <prefix>/lib/s4t/plugins and the template's via --plugin-dir.
"$prefix/bin/s4t" plugins --plugin-dir build/plugins | tee "$work/plugins.txt"
grep -q "flip_consistency" "$work/plugins.txt"
grep -q "stripes" "$work/plugins.txt"
grep -q "dilated" "$work/plugins.txt"
grep -q "$prefix/lib/s4t/plugins/resnet.so" "$work/plugins.txt"
if grep -q "Failed to load" "$work/plugins.txt"; then echo "unexpected load failures"; exit 1; fi

"$prefix/bin/s4t" train template.toml --plugin-dir build/plugins
"$prefix/bin/s4t" adapt template.toml --plugin-dir build/plugins | tee "$work/adapt.txt"
grep -q "flip_consistency" "$work/adapt.txt"
test -f runs/template/adapt/flip_consistency/metrics.json
grep -q '"updates": 6' runs/template/adapt/flip_consistency/metrics.json  # 2 target batches x 3 steps
echo "template plugin built out of tree and adapted: OK"
