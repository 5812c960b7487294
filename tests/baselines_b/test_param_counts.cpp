// Parameter counts on the network of supplement Table 6: ResNet-50 (width 64) + 1x1 heads on the fused
// map, tasks semseg(7) + depth(1) + normals(3) + edge(1), train size 256x256. Building is cheap (no
// forward pass).
#include <cmath>
#include <cstdio>

#include "baseline_helpers.hpp"
#include "s4t/task.hpp"
#include "s4t_doctest.hpp"

using namespace s4t;
using namespace s4t::test;

namespace {

constexpr std::int64_t kBase = 23554124;  // METHODS.md 1.2, Table 6's ActMAD row

/// The Table 6 network, built once (ResNet-50 + conv1x1 heads); every method is attached to its own
/// composite model sharing these modules, as make_tiny_model would compose it.
struct Table6Network {
  std::vector<TaskSpec> tasks{semseg_task({"refrigerator", "table", "toilet", "sofa", "bed", "sink", "chair"}),
                              depth_task(), normals_task(), edge_task()};
  std::array<std::int64_t, 2> size{256, 256};
  BuildContext ctx;
  std::shared_ptr<Backbone> backbone;
  std::map<std::string, std::shared_ptr<TaskHead>> heads;

  Table6Network() {
    auto& registry = build_registry();
    ctx.tasks = tasks;
    ctx.train_size = size;
    backbone = registry.make_backbone(
        "resnet", ctx,
        component_options(ComponentKind::Backbone, "resnet",
                          {{"depth", Value(std::int64_t{50})}, {"width", Value(std::int64_t{64})}}));
    for (auto& t : tasks)
      heads[t.name] =
          registry.make_head("conv1x1", ctx, t, backbone->info(), component_options(ComponentKind::Head, "conv1x1"));
  }

  /// Attaches `method`, prints its counts next to Table 6 and returns {method, total}.
  std::pair<std::int64_t, std::int64_t> count(const std::string& method, double table_millions,
                                              std::map<std::string, Value> options = {}) {
    host::CompositeModel model(tasks, size, backbone, heads);
    model.attach_method(
        build_registry().make_method(method, ctx, component_options(ComponentKind::Method, method, options)));
    auto c = model.parameter_counts();
    const double rel = (static_cast<double>(c["total"]) / 1e6 - table_millions) / table_millions * 100.0;
    char line[200];
    std::snprintf(line, sizeof line, "%-8s method %11lld  total %11lld = %7.2f M   Table 6: %7.2f M  (%+.2f %%)",
                  method.c_str(), static_cast<long long>(c["method"]), static_cast<long long>(c["total"]),
                  static_cast<double>(c["total"]) / 1e6, table_millions, rel);
    MESSAGE(line);
    CHECK(c["total"] == c["backbone"] + c["heads"] + c["method"]);
    CHECK(c["backbone"] + c["heads"] == kBase);
    CHECK(std::abs(rel) < 1.0);
    return {c["method"], c["total"]};
  }
};

}  // namespace

TEST_CASE("parameter counts vs supplement Table 6 (ResNet-50, 12 outputs, 256x256)") {
  Table6Network net;
  CHECK(net.count("none", 23.55).second == kBase);
  // TTT: 1x1 conv 3840->1024 (+bias) + linear 1024->4 (+bias)
  CHECK(net.count("ttt", 27.49).first == 3840 * 1024 + 1024 + 1024 * 4 + 4);
  // TTTFlow: 3 couplings x 8,667,138 + 2 ActNorms x 1,024 (METHODS.md: 3 x 8.66 M = 26.0 M)
  CHECK(net.count("tttflow", 49.56).first == 3 * 8667138 + 2 * 1024);
  // ClusT3 default (layer1 + layer2, 15 projectors, K = 10); layer1 alone reproduces Table 6 exactly.
  CHECK(net.count("clust3", 23.59).first == 15 * (256 * 10 + 10) + 15 * (512 * 10 + 10));
  auto layer1 = net.count("clust3", 23.59, {{"layers", Value(std::vector<std::int64_t>{1})}});
  CHECK(layer1.first == 15 * (256 * 10 + 10));
  CHECK(std::llround(static_cast<double>(layer1.second) / 1e4) == 2359);
  // TTT++: fused map pooled to 4x4 (61,440) -> 2048 -> 128
  CHECK(net.count("tttpp", 149.40).first == 61440LL * 2048 + 2048 + 2048 * 128 + 128);
}
