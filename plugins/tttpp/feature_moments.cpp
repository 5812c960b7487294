#include "feature_moments.hpp"

#include <ATen/ATen.h>

#include <algorithm>

namespace s4t::tttpp {

at::Tensor covariance(const at::Tensor& f) {
  at::Tensor c = f - f.mean(0, true);
  return at::matmul(c.t(), c) / static_cast<double>(std::max<std::int64_t>(f.size(0) - 1, 1));
}

at::Tensor coral(const at::Tensor& cs, const at::Tensor& ct) {
  const double d = static_cast<double>(cs.size(0));
  return (cs - ct).pow(2).sum() / (4.0 * d * d);
}

at::Tensor mean_discrepancy(const at::Tensor& ms, const at::Tensor& mt) { return (ms - mt).pow(2).mean(); }

void moments_from_sums(const at::Tensor& sum, const at::Tensor& sum_outer, std::int64_t n, at::Tensor& mean,
                       at::Tensor& cov) {
  at::Tensor mu = sum / static_cast<double>(n);
  at::Tensor c = (sum_outer - static_cast<double>(n) * at::outer(mu, mu)) / static_cast<double>(n - 1);
  mean.copy_(mu);
  cov.copy_(c);
}

ReferenceDiscrepancy reference_discrepancy(const at::Tensor& rows, const at::Tensor& mean, const at::Tensor& cov,
                                           std::int64_t chunks, std::int64_t size) {
  at::Tensor c_sum = at::zeros({}, cov.options()), m_sum = at::zeros({}, cov.options());
  for (std::int64_t i = 0; i < chunks; ++i) {
    at::Tensor part = rows.narrow(0, i * size, size);
    c_sum += coral(cov, covariance(part));
    m_sum += mean_discrepancy(mean, part.mean(0));
  }
  // Floored so that dividing by them never blows up on a source set without spread.
  ReferenceDiscrepancy r;
  r.coral = (c_sum / static_cast<double>(chunks)).clamp_min(1e-12).item<double>();
  r.mean = (m_sum / static_cast<double>(chunks)).clamp_min(1e-12).item<double>();
  return r;
}

}  // namespace s4t::tttpp
