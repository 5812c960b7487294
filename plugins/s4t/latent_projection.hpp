#pragma once
// S4T's task-latent projection (the shared 1×1 convolution ts_comp on the fused map) evaluated stage by
// stage where that is exact. A fused map made of the encoder stages bilinearly resized to one grid and
// concatenated (the resnet backbone's) gives W·cat_k(resize(s_k)) + b = Σ_k resize(W_k·s_k) + b, W_k the
// columns of W that read stage k: the 1×1 convolution acts on channels and the resize on space, both
// linear, and bilinear weights sum to 1 (so the bias passes through). The per-stage form projects each
// stage at its own resolution -- at ResNet-50 the coarse stages' 2048 and 1024 channels at 1/32 and 1/16
// instead of at 1/4 -- and its backward never forms the fused map's gradient: ~6x less work for the same
// linear map, float-rounding differences only.
#include <ATen/core/Tensor.h>

#include <array>
#include <cstdint>
#include <vector>

namespace s4t::s4t_method {

/// True when `fused` is exactly (bit for bit) the concatenation of `stages`, each bilinearly resized
/// (s4t::resize_bilinear) to fused's grid, in order.
bool fused_is_resized_stages(const at::Tensor& fused, const std::vector<at::Tensor>& stages);

/// The direct form: conv2d(fused, weight, bias), weight O×C×1×1 with C = fused's channels.
at::Tensor project_fused(const at::Tensor& fused, const at::Tensor& weight, const at::Tensor& bias);

/// The same map as project_fused on the fused map of `stages` (fused_is_resized_stages), computed as
/// Σ_k resize_bilinear(conv2d(stage_k, W_k), size) + bias.
at::Tensor project_stages(const std::vector<at::Tensor>& stages, const at::Tensor& weight, const at::Tensor& bias,
                          std::array<std::int64_t, 2> size);

}  // namespace s4t::s4t_method
