#pragma once
// Feature statistics of TTT++: first and second moments of feature vectors and the discrepancies
// (CORAL, mean) between two sets of moments that the alignment loss minimises.
#include <ATen/core/Tensor.h>

#include <cstdint>

namespace s4t::tttpp {

/// Unbiased covariance of the rows of f (n × d).
at::Tensor covariance(const at::Tensor& f);
/// ‖Σs − Σt‖²_F / (4 d²)
at::Tensor coral(const at::Tensor& cs, const at::Tensor& ct);
/// mean_k (μs,k − μt,k)²
at::Tensor mean_discrepancy(const at::Tensor& ms, const at::Tensor& mt);

/// Mean and unbiased covariance of `n` rows from their sum and the sum of their outer products; written
/// into `mean` and `cov` (buffers, converted to their dtype).
void moments_from_sums(const at::Tensor& sum, const at::Tensor& sum_outer, std::int64_t n, at::Tensor& mean,
                       at::Tensor& cov);

/// Typical discrepancies of a target estimate from the source moments: the mean CORAL and mean
/// discrepancy between (`mean`, `cov`) and `chunks` consecutive chunks of `size` rows of `rows`.
struct ReferenceDiscrepancy {
  double coral = 1.0;
  double mean = 1.0;
};
ReferenceDiscrepancy reference_discrepancy(const at::Tensor& rows, const at::Tensor& mean, const at::Tensor& cov,
                                           std::int64_t chunks, std::int64_t size);

}  // namespace s4t::tttpp
