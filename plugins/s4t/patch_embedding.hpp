#pragma once
// The TBS's first map, bilinear resize of the latents to input_res × input_res followed by the p×p,
// stride-p patch embedding, evaluated without the full-resolution intermediate where that is exact.
// Both steps are linear, so for an integral upsampling factor s with s | p (k = p / s) their
// composition is one stride-k convolution of the latent grid with a (k+2)×(k+2) kernel derived from
// the patch weights, on the grid padded by one replicated row and column (bilinear with
// align_corners = false reads at most one source row beyond each k-row block and clamps at the border,
// which replicate padding reproduces). At 32² latents → 256², p = 16 this is 16× fewer multiply-adds
// and no 256² × channels activation; other sizes keep the direct form.
#include <ATen/core/Tensor.h>

#include <cstdint>

namespace s4t::tbs {

/// Integral upsampling factor from `in` to `out` for which the folded form applies with patch `patch`:
/// out = s·in with s ≥ 1 and s dividing `patch`; 0 otherwise.
std::int64_t foldable_factor(std::int64_t in, std::int64_t out, std::int64_t patch);

/// p × (p/s + 2) matrix A with A[r][a] the bilinear weight of source row a − 1 (relative to the start
/// of the patch's k-row block) in upsampled row r of the patch (align_corners = false).
at::Tensor bilinear_patch_weights(std::int64_t s, std::int64_t patch, const at::TensorOptions& options);

/// The direct form: resize_bilinear(x, res×res), then conv2d(weight, bias, stride = patch).
at::Tensor patch_embed_direct(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias,
                              std::int64_t res);

/// The same map as patch_embed_direct, as one convolution on the latent grid where both spatial
/// factors are foldable and at least one exceeds 1; the direct form otherwise.
/// x: B×C×h×w; weight: D×C×p×p; bias: D; result B×D×(res/p)×(res/p).
at::Tensor patch_embed(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias, std::int64_t res);

}  // namespace s4t::tbs
