// Parameter counts with ResNet-50 (width 64) on semseg(7) + depth(1) + normals(3) + edge(1) at 256x256,
// against supplement Table 6 (METHODS.md 1.7): ActMAD 23.55 M, NC-TTT 23.91 M, TENT/TIPI add nothing.
#include <torch/nn/module.h>

#include <cmath>

#include "s4t_doctest.hpp"
#include "tiny_model.hpp"

using namespace s4t;

TEST_CASE("baselines: parameter counts with ResNet-50 match supplement Table 6") {
  constexpr std::int64_t kBase = 23'554'124;  // ResNet-50 without fc + 1x1 heads on the 3840-channel fused map
  struct Row {
    const char* method;
    std::int64_t added;
    double table6_millions;
  };
  // NC-TTT: projector 256 -> 1376 (+bias) = 353,632; discriminator 1376*4+4 + BN 8 + 4+1 = 5,521.
  for (auto row : {Row{"tent", 0, 23.55}, Row{"tipi", 0, 23.55}, Row{"actmad", 0, 23.55}, Row{"ncttt", 359'153, 23.91}}) {
    const std::string method = row.method;
    CAPTURE(method);
    test::TinyModelOptions o;
    o.resnet_depth = 50;
    o.resnet_width = 64;
    o.train_size = {256, 256};
    o.semseg_classes = {"refrigerator", "table", "toilet", "sofa", "bed", "sink", "chair"};
    auto t = test::make_tiny_model(method, o);
    auto counts = t.model->parameter_counts();
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
      for (auto& b : t.model->root().named_buffers(true))
        if (b.key().rfind("method.mean_", 0) == 0) {
          ++layers;
          elements += b.value().numel();
        }
      MESSAGE("actmad: " << layers << " BatchNorm outputs, " << 2 * elements << " statistic values (buffers)");
      CHECK(layers == 53);
    }
  }
}
