#include "patch_embedding.hpp"

#include <ATen/ops/conv2d.h>
#include <ATen/ops/matmul.h>
#include <ATen/ops/replication_pad2d.h>
#include <ATen/ops/zeros.h>

#include <cmath>

#include "s4t/tensor_ops.hpp"

namespace s4t::tbs {

std::int64_t foldable_factor(std::int64_t in, std::int64_t out, std::int64_t patch) {
  if (in < 1 || out % in != 0) return 0;
  const auto s = out / in;
  return patch % s == 0 ? s : 0;
}

at::Tensor bilinear_patch_weights(std::int64_t s, std::int64_t patch, const at::TensorOptions& options) {
  const auto k = patch / s;
  auto a = at::zeros({patch, k + 2}, at::TensorOptions().dtype(at::kDouble));
  auto acc = a.accessor<double, 2>();
  for (std::int64_t r = 0; r < patch; ++r) {
    // Source coordinate of upsampled row r, relative to the block start: (r + 0.5)/s − 0.5 ∈ (−0.5, k − 0.5).
    const double src = (static_cast<double>(r) + 0.5) / static_cast<double>(s) - 0.5;
    const auto i0 = static_cast<std::int64_t>(std::floor(src));
    const double lambda = src - static_cast<double>(i0);
    acc[r][i0 + 1] += 1.0 - lambda;
    acc[r][i0 + 2] += lambda;
  }
  return a.to(options);
}

at::Tensor patch_embed_direct(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias,
                              std::int64_t res) {
  const auto p = weight.size(-1);
  return at::conv2d(resize_bilinear(x, {res, res}), weight, bias, {p, p});
}

at::Tensor patch_embed(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias, std::int64_t res) {
  const auto p = weight.size(-1);
  const auto sh = foldable_factor(x.size(-2), res, p), sw = foldable_factor(x.size(-1), res, p);
  if (sh == 0 || sw == 0 || (sh == 1 && sw == 1)) return patch_embed_direct(x, weight, bias, res);
  // W'[o,c,a,b] = Σ_{r,q} A_h[r,a] · W[o,c,r,q] · A_w[q,b]; differentiable, so the patch weights train.
  const auto opts = weight.options();
  auto folded = at::matmul(bilinear_patch_weights(sh, p, opts).t(),
                           at::matmul(weight, bilinear_patch_weights(sw, p, opts)));
  return at::conv2d(at::replication_pad2d(x, {1, 1, 1, 1}), folded, bias, {p / sh, p / sw});
}

}  // namespace s4t::tbs
