#include "engine/task_affinity.hpp"

#include <ATen/ATen.h>

#include <cmath>

#include "s4t/error.hpp"

namespace s4t::host {

void AffinityAccumulator::update(const std::map<std::string, at::Tensor>& latents) {
  if (latents.empty()) return;
  if (tasks_.empty())
    for (auto& [name, t] : latents) tasks_.push_back(name);
  std::vector<at::Tensor> flat;
  for (auto& name : tasks_) {
    auto it = latents.find(name);
    if (it == latents.end()) throw Error("task affinity: no latent for task '" + name + "'");
    auto z = it->second.detach().to(at::kDouble).flatten(1);  // N × D
    flat.push_back(z.div(z.norm(2, {1}, true).clamp_min(1e-12)));
  }
  const auto d = flat.front().size(1);
  for (auto& z : flat)
    if (z.size(1) != d) throw Error("task affinity: task latents have different sizes; affinity needs equal shapes");
  auto stacked = at::stack(flat, 1);                        // N × T × D
  auto cos = at::bmm(stacked, stacked.transpose(1, 2));     // N × T × T
  auto batch_sum = cos.sum(0);
  sum_ = sum_.defined() ? sum_.add(batch_sum.to(sum_.device())) : batch_sum;
  images_ += stacked.size(0);
}

std::vector<std::vector<double>> AffinityAccumulator::matrix() const {
  std::vector<std::vector<double>> m(tasks_.size(), std::vector<double>(tasks_.size(), 0.0));
  if (images_ == 0) return m;
  auto a = sum_.div(static_cast<double>(images_)).cpu();
  for (size_t i = 0; i < tasks_.size(); ++i)
    for (size_t j = 0; j < tasks_.size(); ++j) m[i][j] = a[i][j].item<double>();
  return m;
}

nlohmann::json affinity_report(const AffinityAccumulator& source, const AffinityAccumulator& before,
                               const AffinityAccumulator& after) {
  nlohmann::json j;
  const AffinityAccumulator* any = !source.empty() ? &source : !before.empty() ? &before : &after;
  if (any->empty()) return j;
  j["tasks"] = any->tasks();
  auto put = [&](const char* key, const AffinityAccumulator& a) {
    if (!a.empty()) j[key] = a.matrix();
  };
  put("source", source);
  put("target_before", before);
  put("target_after", after);
  auto gap = [&](const char* key, const AffinityAccumulator& a) {
    if (source.empty() || a.empty()) return;
    auto s = source.matrix(), t = a.matrix();
    std::vector<std::vector<double>> g(s.size(), std::vector<double>(s.size()));
    double total = 0.0;
    int off = 0;
    for (size_t i = 0; i < s.size(); ++i)
      for (size_t k = 0; k < s.size(); ++k) {
        g[i][k] = std::abs(t[i][k] - s[i][k]);
        if (i != k) { total += g[i][k]; ++off; }
      }
    j[std::string("gap_") + key] = g;
    j[std::string("mean_gap_") + key] = off ? total / off : 0.0;
  };
  gap("before", before);
  gap("after", after);
  return j;
}

}  // namespace s4t::host
