#pragma once
// For the compute-mode and CUDA suites: a few adaptation steps of the host's session on one tiny
// model under a given device / precision / memory format / sync mode, and the relative distance of two
// sets of predictions. The recipes are deterministic: S4T with mask_ratio 0 (every token visible, so
// the TBS output does not depend on the device's random stream), TENT, and the session probe.
#include <ATen/ATen.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "s4t_testkit/doctest.hpp"
#include "s4t_testkit/testkit.hpp"

namespace s4t::test {

inline testkit::Recipe compute_recipe(const std::string& method) {
  testkit::Recipe r;
  r.method = method;
  if (method == "s4t")
    r.method_options = {{"tbs_input_res", Value(std::int64_t{32})}, {"patch_size", Value(std::int64_t{8})},
                        {"embed_dim", Value(std::int64_t{32})},     {"depth", Value(std::int64_t{2})},
                        {"decoder_depth", Value(std::int64_t{1})},  {"latent_channels", Value(std::int64_t{16})},
                        {"mask_ratio", Value(0.0)},                 {"lr", Value(1e-2)}};
  else if (method == "tent")
    r.method_options = {{"lr", Value(1e-2)}};
  else if (method == "probe_plain")
    r.method_options = {{"lr", Value(0.1)}};
  return r;
}

struct Adapted {
  std::vector<double> losses;                        ///< per step (fp32 values read back)
  std::map<std::string, at::Tensor> before, after;  ///< predictions before and after the steps, on the CPU
  std::int64_t updates = 0;
};

inline std::map<std::string, at::Tensor> on_cpu(std::map<std::string, at::Tensor> m) {
  for (auto& [k, v] : m) v = v.cpu();
  return m;
}

/// `steps` steps on one batch of 4 (seed 7), predictions before and after; first `source_steps` source
/// training steps (fp32, Adam 1e-2) on another batch, so the weights are not the random initialisation.
inline Adapted adapt_tiny(testkit::Recipe r, int steps, int source_steps = 0) {
  testkit::TinyExperiment x(r);
  if (source_steps > 0) {
    auto source = x.random_batch(4, 5);
    for (int i = 0; i < source_steps; ++i) x.source_step(source, 1e-2);
  }
  auto images = x.random_batch(4, 7).images;
  auto& session = x.session();
  Adapted out;
  out.before = on_cpu(session.predict(images));
  for (int i = 1; i <= steps; ++i) {
    auto o = session.step(images, {i, 0});
    REQUIRE(o.ran);
    if (!o.deferred) out.losses.push_back(o.loss);
  }
  for (auto& rec : session.flush()) out.losses.push_back(rec.loss);
  out.after = on_cpu(session.predict(images));
  out.updates = session.updates();
  return out;
}

/// max over tasks of max|a - b| / max(max|b|, 1e-6).
inline double max_relative(const std::map<std::string, at::Tensor>& a, const std::map<std::string, at::Tensor>& b) {
  double worst = 0.0;
  for (auto& [name, t] : b) {
    REQUIRE(a.count(name));
    const auto& u = a.at(name);
    REQUIRE((u.scalar_type() == at::kFloat));
    const double scale = std::max(t.abs().max().item<double>(), 1e-6);
    worst = std::max(worst, (u - t).abs().max().item<double>() / scale);
  }
  return worst;
}

/// max over tasks of ||a - b||_2 / ||b||_2 (the error of a prediction map as a whole, as metrics see it).
inline double relative_l2(const std::map<std::string, at::Tensor>& a, const std::map<std::string, at::Tensor>& b) {
  double worst = 0.0;
  for (auto& [name, t] : b) {
    REQUIRE(a.count(name));
    worst = std::max(worst, (a.at(name) - t).norm().item<double>() / std::max(t.norm().item<double>(), 1e-12));
  }
  return worst;
}

/// What the metrics see of the difference: the fraction of pixels whose segmentation class (argmax over
/// the task "semseg") differs, and relative_l2 over the other tasks.
struct MetricGap {
  double class_disagreement = 0.0;
  double dense_relative_l2 = 0.0;
};
inline MetricGap metric_gap(const std::map<std::string, at::Tensor>& a, const std::map<std::string, at::Tensor>& b) {
  MetricGap g;
  std::map<std::string, at::Tensor> da, db;
  for (auto& [name, t] : b) {
    REQUIRE(a.count(name));
    if (name == "semseg") g.class_disagreement = a.at(name).argmax(1).ne(t.argmax(1)).to(at::kDouble).mean().item<double>();
    else {
      da[name] = a.at(name);
      db[name] = t;
    }
  }
  g.dense_relative_l2 = relative_l2(da, db);
  return g;
}

inline double max_relative(const std::vector<double>& a, const std::vector<double>& b) {
  REQUIRE(a.size() == b.size());
  double worst = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i)
    worst = std::max(worst, std::abs(a[i] - b[i]) / std::max(std::abs(b[i]), 1e-6));
  return worst;
}

}  // namespace s4t::test
