// Parameter counts on the network of supplement Table 6: ResNet-50 (width 64) + 1x1 heads on the fused
// map, tasks semseg(7) + depth(1) + normals(3) + edge(1), train size 256x256, every method attached as a
// run attaches it. Building is cheap (no forward pass).
#include <torch/nn/module.h>

#include <cmath>
#include <cstdio>

#include "s4t_testkit/doctest.hpp"
#include "s4t_testkit/testkit.hpp"

using namespace s4t;

namespace {

constexpr std::int64_t kBase = 23'554'124;  // ResNet-50 without fc + 1x1 heads on the 3840-channel fused map

testkit::Recipe table6(const std::string& method, std::map<std::string, Value> options = {}) {
  testkit::Recipe r;
  r.backbone_options = {{"depth", Value(std::int64_t{50})}, {"width", Value(std::int64_t{64})}};
  r.tasks = testkit::standard_tasks(7);
  r.image_size = {256, 256};
  r.method = method;
  r.method_options = std::move(options);
  return r;
}

/// Builds the Table 6 network with `method`, prints its counts next to Table 6 and returns {method, total}.
std::pair<std::int64_t, std::int64_t> count(const std::string& method, double table_millions,
                                            std::map<std::string, Value> options = {}) {
  testkit::TinyExperiment x(table6(method, std::move(options)));
  auto c = x.parameter_counts();
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

}  // namespace

TEST_CASE("baselines: parameter counts with ResNet-50 match supplement Table 6") {
  struct Row {
    const char* method;
    std::int64_t added;
    double table6_millions;
  };
  // NC-TTT: projector 256 -> 1376 (+bias) = 353,632; discriminator 1376*4+4 + BN 8 + 4+1 = 5,521.
  for (auto row : {Row{"tent", 0, 23.55}, Row{"tipi", 0, 23.55}, Row{"actmad", 0, 23.55}, Row{"ncttt", 359'153, 23.91}}) {
    const std::string method = row.method;
    CAPTURE(method);
    testkit::TinyExperiment x(table6(method));
    auto counts = x.parameter_counts();
    const double millions = static_cast<double>(counts["total"]) / 1e6;
    MESSAGE(method << ": base " << counts["backbone"] + counts["heads"] << " + method " << counts["method"]
                       << " = " << counts["total"] << " (" << millions << " M; Table 6: " << row.table6_millions
                       << " M)");
    CHECK(counts["backbone"] + counts["heads"] == kBase);
    CHECK(counts["method"] == row.added);
    CHECK(counts["total"] == kBase + row.added);
    CHECK(std::round(millions * 100.0) / 100.0 == doctest::Approx(row.table6_millions));
    if (method == "actmad") {  // statistics are buffers, not parameters
      std::int64_t layers = 0, elements = 0;
      for (auto& b : x.root().named_buffers(true))
        if (b.key().rfind("method.mean_", 0) == 0) {
          ++layers;
          elements += b.value().numel();
        }
      MESSAGE("actmad: " << layers << " BatchNorm outputs, " << 2 * elements << " statistic values (buffers)");
      CHECK(layers == 53);
    }
  }
}

TEST_CASE("parameter counts vs supplement Table 6 (ResNet-50, 12 outputs, 256x256)") {
  CHECK(count("none", 23.55).second == kBase);
  // TTT: 1x1 conv 3840->1024 (+bias) + linear 1024->4 (+bias)
  CHECK(count("ttt", 27.49).first == 3840 * 1024 + 1024 + 1024 * 4 + 4);
  // TTTFlow: 3 couplings x 8,667,138 + 2 ActNorms x 1,024 (3 x 8.66 M = 26.0 M)
  CHECK(count("tttflow", 49.56).first == 3 * 8667138 + 2 * 1024);
  // ClusT3 default (layer1 + layer2, 15 projectors, K = 10); layer1 alone reproduces Table 6 exactly.
  CHECK(count("clust3", 23.59).first == 15 * (256 * 10 + 10) + 15 * (512 * 10 + 10));
  auto layer1 = count("clust3", 23.59, {{"layers", Value(std::vector<std::int64_t>{1})}});
  CHECK(layer1.first == 15 * (256 * 10 + 10));
  CHECK(std::llround(static_cast<double>(layer1.second) / 1e4) == 2359);
  // TTT++: fused map pooled to 4x4 (61,440) -> 2048 -> 128
  CHECK(count("tttpp", 149.40).first == 61440LL * 2048 + 2048 + 2048 * 128 + 128);
}
