#include "evaluation/synchronization.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "s4t/error.hpp"
#include "evaluation/metrics.hpp"

namespace s4t {

namespace {
void check_curves(const Curves& curves, const char* what) {
  if (curves.empty()) throw Error(std::string(what) + ": no curves");
  for (auto& c : curves)
    if (c.size() != curves.front().size() || c.empty())
      throw Error(std::string(what) + ": curves must be non-empty and of equal length");
}
}  // namespace

double step_variance(const Curves& curves) {
  check_curves(curves, "step_variance");
  std::vector<double> peaks;
  for (auto& c : curves) peaks.push_back(static_cast<double>(std::max_element(c.begin(), c.end()) - c.begin() + 1));
  double mean = 0.0;
  for (double p : peaks) mean += p;
  mean /= static_cast<double>(peaks.size());
  double var = 0.0;
  for (double p : peaks) var += (p - mean) * (p - mean);
  return std::sqrt(var / static_cast<double>(peaks.size()));
}

double dtw_distance(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.empty() || b.empty()) throw Error("dtw_distance: empty curve");
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<std::vector<double>> dc(a.size() + 1, std::vector<double>(b.size() + 1, inf));
  dc[0][0] = 0.0;
  for (size_t i = 1; i <= a.size(); ++i)
    for (size_t j = 1; j <= b.size(); ++j)
      dc[i][j] = std::abs(a[i - 1] - b[j - 1]) + std::min({dc[i - 1][j], dc[i][j - 1], dc[i - 1][j - 1]});
  return dc[a.size()][b.size()];
}

double dtw(const Curves& curves) {
  check_curves(curves, "dtw");
  if (curves.size() < 2) return 0.0;
  double sum = 0.0;
  int pairs = 0;
  for (size_t i = 0; i < curves.size(); ++i)
    for (size_t j = i + 1; j < curves.size(); ++j, ++pairs) sum += dtw_distance(curves[i], curves[j]);
  return sum / pairs;
}

double cosine_similarity(const Curves& curves, bool mean_over_steps) {
  check_curves(curves, "cosine_similarity");
  const size_t steps = curves.front().size();
  if (curves.size() < 2 || steps < 2) return 0.0;
  auto sign = [](double x) { return x > 0 ? 1.0 : x < 0 ? -1.0 : 0.0; };
  double total = 0.0;
  int pairs = 0;
  for (size_t i = 0; i < curves.size(); ++i)
    for (size_t j = i + 1; j < curves.size(); ++j, ++pairs) {
      double s = 0.0;
      for (size_t t = 0; t + 1 < steps; ++t)
        s += sign(curves[i][t + 1] - curves[i][t]) * sign(curves[j][t + 1] - curves[j][t]);  // Δy_i·Δy_j/(|Δy_i||Δy_j|)
      total += mean_over_steps ? s / static_cast<double>(steps - 1) : s;
    }
  return total / pairs;
}

Curves relative_gain_curves(const std::vector<std::vector<double>>& values, const std::vector<double>& base,
                            const std::vector<bool>& higher_is_better) {
  Curves out(base.size());
  for (auto& step : values)
    for (size_t t = 0; t < base.size(); ++t) out[t].push_back(relative_gain(base[t], step.at(t), higher_is_better[t]));
  return out;
}

Curves oriented_curves(const std::vector<std::vector<double>>& values, const std::vector<bool>& higher_is_better) {
  Curves out(higher_is_better.size());
  for (auto& step : values)
    for (size_t t = 0; t < higher_is_better.size(); ++t) out[t].push_back(higher_is_better[t] ? step.at(t) : -step.at(t));
  return out;
}

}  // namespace s4t
