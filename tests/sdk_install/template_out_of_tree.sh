#!/usr/bin/env bash
# usage: template_out_of_tree.sh BUILD_DIR SOURCE_DIR
# Installs s4t into a temporary prefix, builds examples/plugin_template against the installed SDK only,
# and runs `s4t train` + `s4t adapt` on template.toml with the installed host: the template's own
# backbone, head, method and dataset, loaded from the template's build folder.
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
launcher=()
if command -v ccache > /dev/null; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi
cmake -S "$work/template" -B "$work/template/build" -G Ninja -DCMAKE_BUILD_TYPE=Release "${launcher[@]}" \
  -DCMAKE_PREFIX_PATH="$prefix" > "$work/configure.log" || { cat "$work/configure.log"; exit 1; }
cmake --build "$work/template/build" -j 2 > "$work/build.log" || { cat "$work/build.log"; exit 1; }

cd "$work/template"
plugins=build/plugins
for so in template_tiny_cnn_backbone template_dilated_head template_flip_method template_stripes_dataset; do
  test -f "$plugins/$so.so" || { echo "the template's build did not produce $plugins/$so.so"; exit 1; }
done

# The installed host finds its own plugins under <prefix>/lib/s4t/plugins and the template's via --plugin-dir.
"$prefix/bin/s4t" plugins --plugin-dir "$plugins" | tee "$work/plugins.txt"
for name in tiny_cnn dilated flip_consistency stripes; do
  grep -q "$name" "$work/plugins.txt" || { echo "s4t plugins does not list '$name'"; exit 1; }
done
grep -q "$prefix/lib/s4t/plugins/resnet.so" "$work/plugins.txt"
if grep -q "Failed to load" "$work/plugins.txt"; then echo "unexpected load failures"; exit 1; fi

"$prefix/bin/s4t" train template.toml --plugin-dir "$plugins"
"$prefix/bin/s4t" adapt template.toml --plugin-dir "$plugins" | tee "$work/adapt.txt"
grep -q "flip_consistency" "$work/adapt.txt"
# The run records which file provided each component: all four come from the template's build.
for c in "backbone tiny_cnn .*template_tiny_cnn_backbone" "head dilated .*template_dilated_head" \
         "dataset stripes .*template_stripes_dataset" "method flip_consistency .*template_flip_method"; do
  grep -Eq "^# $c\.so" runs/template/config.toml || { echo "runs/template/config.toml: no '# $c.so'"; exit 1; }
done
test -f runs/template/adapt/flip_consistency/metrics.json
grep -q '"updates": 6' runs/template/adapt/flip_consistency/metrics.json  # 2 target batches x 3 steps
# The same method code on the first-party backbones: it asks the SDK for what it adapts, so it needs no
# change to run on resnet or on the MTI-Net architecture.
for backbone in resnet mtinet; do
  set_backbone=(--set "model.backbone=$backbone" --set "backbone.$backbone.depth=18" --set "backbone.$backbone.width=8"
                --set "run.name=template-$backbone" --set train.iterations=4)
  if [ "$backbone" = mtinet ]; then set_backbone+=(--set "backbone.mtinet.channels=[8, 8, 8, 8]"); fi
  "$prefix/bin/s4t" train template.toml --plugin-dir "$plugins" "${set_backbone[@]}" > "$work/train-$backbone.txt"
  "$prefix/bin/s4t" adapt template.toml --plugin-dir "$plugins" "${set_backbone[@]}" > "$work/adapt-$backbone.txt"
  grep -q '"updates": 6' "runs/template-$backbone/adapt/flip_consistency/metrics.json" ||
    { echo "flip_consistency did not adapt on $backbone"; cat "$work/adapt-$backbone.txt"; exit 1; }
done
echo "template plugins (backbone, head, method, dataset) built out of tree, trained and adapted; the template method also on resnet and mtinet: OK"
