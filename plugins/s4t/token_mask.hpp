#pragma once
// Header-only pieces of the TBS that tests exercise directly (docs/methods.md#s4t): the number of
// visible tokens, the per-sample random token mask and the fixed 2-D sine-cosine position embedding.
// Both the plugin and tests/plugins_s4t compile this header; nothing here is exported.
#include <ATen/core/Tensor.h>
#include <ATen/ops/arange.h>
#include <ATen/ops/argsort.h>
#include <ATen/ops/cat.h>
#include <ATen/ops/pow.h>
#include <ATen/ops/rand.h>

#include <cmath>
#include <cstdint>
#include <stdexcept>

namespace s4t::tbs {

/// Visible tokens of N after masking a fraction `mask_ratio`: floor(N·(1 − r)), computed in double
/// exactly like MAE's int(L * (1 - mask_ratio)) (256 tokens at r = 0.8 → 51).
inline std::int64_t visible_token_count(std::int64_t tokens, double mask_ratio) {
  return static_cast<std::int64_t>(std::floor(static_cast<double>(tokens) * (1.0 - mask_ratio)));
}

/// A per-sample random permutation of the tokens: `keep` holds the ids (B×n_keep, int64) of the visible
/// tokens, `restore` (B×N) puts [visible tokens, then mask tokens] back in the original order.
struct TokenMask {
  at::Tensor keep;
  at::Tensor restore;
};

/// MAE's random masking: uniform noise per token from the global torch RNG of `device` (so the run's
/// seed controls it), ascending argsort, keep the `visible` tokens with the smallest noise. A fresh
/// draw on every call; no host synchronisation.
/// `rank` of `world` (> 1): this batch is rank `rank`'s share of a global batch of batch·world samples
/// whose sample W·j + rank is its sample j (the sharded loader's layout); the noise is drawn for the
/// whole global batch, as one process would, and this rank takes its rows, so W ranks mask exactly
/// as one process does (every rank's RNG holds the same state).
inline TokenMask random_token_mask(std::int64_t batch, std::int64_t tokens, std::int64_t visible,
                                   const at::Device& device, std::int64_t rank = 0, std::int64_t world = 1) {
  auto noise = at::rand({batch * world, tokens}, at::TensorOptions().device(device).dtype(at::kFloat));
  if (world > 1) noise = noise.view({batch, world, tokens}).select(1, rank);
  const std::int64_t dim = 1;
  auto shuffle = at::argsort(noise, dim, /*descending=*/false);
  auto restore = at::argsort(shuffle, dim, /*descending=*/false);
  return {shuffle.narrow(1, 0, visible), restore};
}

/// Fixed 2-D sin-cos position embedding of MAE (no class token), shape 1×(grid·grid)×dim, float.
/// Token i·grid + j (row i, column j): the first dim/2 entries encode the column j, the last dim/2 the
/// row i; each half is [sin(p·ω_k), cos(p·ω_k)] with ω_k = 10000^(−k/(dim/4)), k = 0..dim/4−1.
inline at::Tensor sincos_position_embedding(std::int64_t dim, std::int64_t grid) {
  if (dim % 4 != 0) throw std::invalid_argument("sin-cos position embedding needs a width divisible by 4");
  const std::int64_t quarter = dim / 4;
  auto f64 = at::TensorOptions().dtype(at::kDouble);
  auto omega = at::pow(10000.0, at::arange(quarter, f64).div(static_cast<double>(quarter)).neg());  // (q)
  auto index = at::arange(grid * grid, f64);
  auto rows = index.div(static_cast<double>(grid)).floor();
  auto cols = index.sub(rows.mul(static_cast<double>(grid)));
  auto encode = [&](const at::Tensor& p) {
    auto a = p.unsqueeze(1).mul(omega.unsqueeze(0));  // (N, q)
    return at::cat({a.sin(), a.cos()}, 1);
  };
  return at::cat({encode(cols), encode(rows)}, 1).to(at::kFloat).unsqueeze(0);
}

}  // namespace s4t::tbs
