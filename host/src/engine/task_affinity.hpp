#pragma once
// Task affinity (supplement §C, Fig. 1): A_ij = cosine similarity between the latents of tasks i and j,
// each image's latent flattened, averaged over images.
#include <ATen/core/Tensor.h>

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace s4t::host {

class AffinityAccumulator {
 public:
  /// Adds one batch of latents (task -> N×C×h×w). Tasks missing or shaped differently are an error.
  void update(const std::map<std::string, at::Tensor>& latents);
  bool empty() const { return images_ == 0; }
  std::vector<std::string> tasks() const { return tasks_; }
  /// T×T matrix, symmetric, unit diagonal.
  std::vector<std::vector<double>> matrix() const;

 private:
  std::vector<std::string> tasks_;
  at::Tensor sum_;  // T×T, summed over images
  std::int64_t images_ = 0;
};

/// {"tasks": [...], "source": A_s, "target_before": A_t0, "target_after": A_tS, "gap_before": |A_t0−A_s|,
///  "gap_after": |A_tS−A_s|, "mean_gap_before": ..., "mean_gap_after": ...} for the matrices that exist.
nlohmann::json affinity_report(const AffinityAccumulator& source, const AffinityAccumulator& before,
                               const AffinityAccumulator& after);

}  // namespace s4t::host
