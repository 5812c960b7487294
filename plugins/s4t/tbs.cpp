#include "tbs.hpp"

#include <ATen/core/grad_mode.h>
#include <ATen/ops/cat.h>
#include <ATen/ops/gelu.h>
#include <ATen/ops/zeros.h>
#include <torch/nn/init.h>
#include <torch/version.h>

#if TORCH_VERSION_MAJOR >= 2
#include <ATen/ops/scaled_dot_product_attention.h>
#else
#include <ATen/ops/matmul.h>
#include <ATen/ops/softmax.h>
#endif

#include <cmath>

#include "s4t/collectives.hpp"
#include "s4t/error.hpp"
#include "patch_embedding.hpp"
#include "token_mask.hpp"

namespace s4t::tbs {

AttentionImpl::AttentionImpl(std::int64_t dim, std::int64_t heads) : heads_(heads) {
  qkv = register_module("qkv", torch::nn::Linear(torch::nn::LinearOptions(dim, 3 * dim).bias(true)));
  proj = register_module("proj", torch::nn::Linear(dim, dim));
}

at::Tensor AttentionImpl::forward(const at::Tensor& x) {
  const auto b = x.size(0), n = x.size(1), d = x.size(2), hd = d / heads_;
  auto parts = qkv->forward(x).reshape({b, n, 3, heads_, hd}).permute({2, 0, 3, 1, 4});  // 3×B×H×N×hd
  auto q = parts.select(0, 0), k = parts.select(0, 1), v = parts.select(0, 2);
#if TORCH_VERSION_MAJOR >= 2
  auto out = at::scaled_dot_product_attention(q, k, v);  // default scale 1/sqrt(hd)
#else
  auto scores = at::matmul(q.mul(1.0 / std::sqrt(static_cast<double>(hd))), k.transpose(-2, -1));
  auto out = at::matmul(at::softmax(scores, -1), v);
#endif
  return proj->forward(out.transpose(1, 2).reshape({b, n, d}));
}

BlockImpl::BlockImpl(std::int64_t dim, std::int64_t heads, std::int64_t hidden) {
  auto ln = torch::nn::LayerNormOptions({dim}).eps(1e-6);
  norm1 = register_module("norm1", torch::nn::LayerNorm(ln));
  attn = register_module("attn", std::make_shared<AttentionImpl>(dim, heads));
  norm2 = register_module("norm2", torch::nn::LayerNorm(ln));
  mlp = register_module("mlp", std::make_shared<torch::nn::Module>("Mlp"));
  fc1 = mlp->register_module("fc1", torch::nn::Linear(dim, hidden));
  fc2 = mlp->register_module("fc2", torch::nn::Linear(hidden, dim));
}

at::Tensor BlockImpl::forward(const at::Tensor& x) {
  auto y = x.add(attn->forward(norm1->forward(x)));
  return y.add(fc2->forward(at::gelu(fc1->forward(norm2->forward(y)))));
}

TaskBehaviorSynchronizerImpl::TaskBehaviorSynchronizerImpl(const TbsOptions& o) : options_(o) {
  if (o.patch < 1 || o.input_res % o.patch != 0)
    throw ConfigError("s4t: tbs_input_res (" + std::to_string(o.input_res) + ") must be a multiple of patch_size (" +
                      std::to_string(o.patch) + ")");
  if (o.dim % 4 != 0 || o.dim % o.heads != 0)
    throw ConfigError("s4t: embed_dim (" + std::to_string(o.dim) + ") must be divisible by 4 and by heads (" +
                      std::to_string(o.heads) + ")");
  const auto dd = decoder_dim(), dh = decoder_heads();
  if (dd % 4 != 0 || dd % dh != 0)
    throw ConfigError("s4t: decoder_embed_dim (" + std::to_string(dd) + ") must be divisible by 4 and by decoder_heads (" +
                      std::to_string(dh) + ")");
  grid_ = o.input_res / o.patch;
  visible_ = visible_token_count(tokens(), o.mask_ratio);
  if (visible_ < 1)
    throw ConfigError("s4t: mask_ratio " + std::to_string(o.mask_ratio) + " leaves no visible token of " +
                      std::to_string(tokens()));
  const auto hidden = static_cast<std::int64_t>(static_cast<double>(o.dim) * o.mlp_ratio);
  const auto decoder_hidden = static_cast<std::int64_t>(static_cast<double>(dd) * o.mlp_ratio);

  patch_embed = register_module("patch_embed", std::make_shared<torch::nn::Module>("PatchEmbed"));
  proj = patch_embed->register_module(
      "proj", torch::nn::Conv2d(torch::nn::Conv2dOptions(o.in_channels, o.dim, o.patch).stride(o.patch).bias(true)));
  pos_embed = register_buffer("pos_embed", sincos_position_embedding(o.dim, grid_));
  blocks = register_module("blocks", torch::nn::ModuleList());
  for (std::int64_t i = 0; i < o.depth; ++i) blocks->push_back(std::make_shared<BlockImpl>(o.dim, o.heads, hidden));
  norm = register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({o.dim}).eps(1e-6)));

  // The decoder has its own width and heads (MAE's decoder_embed_dim / decoder_num_heads; the released
  // code's decoder_embed / decoder_num_heads, models/TTT_model/Joint_MAE.py), by default the encoder's.
  decoder_embed = register_module("decoder_embed", torch::nn::Linear(o.dim, dd));
  mask_token = register_parameter("mask_token", at::zeros({1, 1, dd}));
  decoder_pos_embed = register_buffer("decoder_pos_embed", sincos_position_embedding(dd, grid_));
  decoder_blocks = register_module("decoder_blocks", torch::nn::ModuleList());
  for (std::int64_t i = 0; i < o.decoder_depth; ++i)
    decoder_blocks->push_back(std::make_shared<BlockImpl>(dd, dh, decoder_hidden));
  decoder_norm = register_module("decoder_norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dd}).eps(1e-6)));
  decoder_pred = register_module("decoder_pred", torch::nn::Linear(dd, o.patch * o.patch * o.out_channels));
  reset_parameters();
}

// MAE's initialize_weights: patch-embedding weight xavier-uniform as a (dim × in·p·p) matrix (its bias
// keeps PyTorch's default conv init, as in MAE), mask token N(0, 0.02²), every Linear xavier-uniform with
// zero bias, every LayerNorm weight 1 and bias 0.
void TaskBehaviorSynchronizerImpl::reset_parameters() {
  at::NoGradGuard no_grad;
  torch::nn::init::xavier_uniform_(proj->weight.view({proj->weight.size(0), -1}));
  torch::nn::init::normal_(mask_token, 0.0, 0.02);
  for (auto& m : modules(/*include_self=*/false)) {
    if (auto* linear = m->as<torch::nn::Linear>()) {
      torch::nn::init::xavier_uniform_(linear->weight);
      torch::nn::init::zeros_(linear->bias);
    } else if (auto* ln = m->as<torch::nn::LayerNorm>()) {
      torch::nn::init::ones_(ln->weight);
      torch::nn::init::zeros_(ln->bias);
    }
  }
}

at::Tensor TaskBehaviorSynchronizerImpl::forward(const at::Tensor& latents) {
  const auto& o = options_;
  if (latents.dim() != 4 || latents.size(1) != o.in_channels)
    throw Error("s4t TBS: expected N×" + std::to_string(o.in_channels) + "×h×w latents, got " +
                std::to_string(latents.dim()) + "-d input with " + std::to_string(latents.size(1)) + " channels");
  const auto b = latents.size(0), d = o.dim, dd = decoder_dim(), n = tokens();
  // Resize to input_res² and patch-embed, folded into one convolution where exact (patch_embedding.hpp).
  auto t = o.fold_embedding ? tbs::patch_embed(latents, proj->weight, proj->bias, o.input_res)
                            : tbs::patch_embed_direct(latents, proj->weight, proj->bias, o.input_res);
  // No cast to the tokens' dtype: under CPU bf16 autocast (LibTorch 1.13) LayerNorm is not autocast, so
  // the tokens must come back to fp32 here to meet its fp32 weights.
  t = t.flatten(2).transpose(1, 2).add(pos_embed);  // B×N×D

  // Encoder on the visible tokens only.
  // Data-parallel source training with synchronised statistics: the ranks act as one process on the
  // global batch, the masks included (docs/distributed.md).
  const auto group = s4t::collectives();
  const bool global = group && group->world_size() > 1 && s4t::sync_batch_norm_enabled();
  auto mask = global ? random_token_mask(b, n, visible_, t.device(), group->rank(), group->world_size())
                     : random_token_mask(b, n, visible_, t.device());
  t = t.gather(1, mask.keep.unsqueeze(-1).expand({b, visible_, d}));
  for (auto& blk : *blocks) t = blk->as<BlockImpl>()->forward(t);
  t = norm->forward(t);

  // Decoder on the full grid: mask tokens for the removed positions, original order restored.
  t = decoder_embed->forward(t);
  t = at::cat({t.to(mask_token.scalar_type()), mask_token.expand({b, n - visible_, dd})}, 1);
  t = t.gather(1, mask.restore.unsqueeze(-1).expand({b, n, dd})).add(decoder_pos_embed);
  for (auto& blk : *decoder_blocks) t = blk->as<BlockImpl>()->forward(t);
  t = decoder_pred->forward(decoder_norm->forward(t));  // B×N×(p·p·C), each patch ordered (p, q, c)

  // Un-patchify: (B, gh, gw, p, q, C) → (B, C, gh·p, gw·q).
  const auto g = grid_, p = o.patch, c = o.out_channels;
  return t.reshape({b, g, g, p, p, c}).permute({0, 5, 1, 3, 2, 4}).reshape({b, c, g * p, g * p});
}

}  // namespace s4t::tbs
