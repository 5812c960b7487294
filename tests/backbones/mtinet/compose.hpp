#pragma once
// The mtinet tests' models: an architecture (what `[model] backbone/head` + `[backbone.<name>]` of a
// config say) composed with a method by the test kit, and adaptation on one fixed batch.
#include <ATen/core/Tensor.h>
#include <torch/utils.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "parameters.hpp"
#include "s4t_testkit/doctest.hpp"
#include "s4t_testkit/testkit.hpp"

namespace s4t::test {

using Shape = std::vector<std::int64_t>;

struct Architecture {
  std::string backbone;
  std::map<std::string, Value> backbone_options;
  std::string head = "conv1x1";
};

/// The tiny MTI-Net of these tests: ResNet-18 width 8 trunk, widths 8/8/16/16.
inline Architecture tiny_mtinet(std::map<std::string, Value> extra = {}) {
  Architecture a{"mtinet", {{"depth", Value(std::int64_t{18})}, {"width", Value(std::int64_t{8})},
                            {"channels", Value(std::vector<std::int64_t>{8, 8, 16, 16})}}};
  for (auto& [k, v] : extra) a.backbone_options[k] = v;
  return a;
}
inline Architecture tiny_resnet() { return {"resnet", {{"depth", Value(std::int64_t{18})}, {"width", Value(std::int64_t{8})}}}; }

/// The model as a run composes it; nothing here depends on which architecture is asked for.
inline std::unique_ptr<testkit::TinyExperiment> compose(const Architecture& arch, const std::string& method,
                                                        std::map<std::string, Value> method_options = {},
                                                        std::vector<TaskSpec> tasks = testkit::standard_tasks(),
                                                        std::array<std::int64_t, 2> train_size = {32, 32}) {
  testkit::Recipe r;
  r.backbone = arch.backbone;
  r.backbone_options = arch.backbone_options;
  r.head = arch.head;
  r.method = method;
  r.method_options = std::move(method_options);
  r.tasks = std::move(tasks);
  r.image_size = train_size;
  return std::make_unique<testkit::TinyExperiment>(r);
}

/// `steps` steps of the host's session on one fixed batch; the loss per step. The RNG is reseeded before
/// every step so S4T's random token mask is the same each time and the loss is a deterministic function
/// of the weights.
inline std::vector<double> adapt_on(testkit::TinyExperiment& x, const at::Tensor& images, int steps) {
  auto& session = x.session();
  std::vector<double> losses;
  for (std::int64_t s = 1; s <= steps; ++s) {
    torch::manual_seed(7);
    auto outcome = session.step(images, AdaptContext{s, 0});
    CHECK_MESSAGE(outcome.updated, "step " << s << " made no update");
    losses.push_back(outcome.loss);
  }
  return losses;
}

}  // namespace s4t::test
