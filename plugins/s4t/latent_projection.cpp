#include "latent_projection.hpp"

#include <ATen/core/grad_mode.h>
#include <ATen/ops/cat.h>
#include <ATen/ops/conv2d.h>
#include <ATen/ops/equal.h>

#include "s4t/error.hpp"
#include "s4t/tensor_ops.hpp"

namespace s4t::s4t_method {

bool fused_is_resized_stages(const at::Tensor& fused, const std::vector<at::Tensor>& stages) {
  if (!fused.defined() || stages.empty() || fused.dim() != 4) return false;
  std::int64_t channels = 0;
  for (auto& s : stages) {
    if (!s.defined() || s.dim() != 4 || s.size(0) != fused.size(0)) return false;
    channels += s.size(1);
  }
  if (channels != fused.size(1)) return false;
  at::NoGradGuard no_grad;
  std::vector<at::Tensor> resized;
  for (auto& s : stages) resized.push_back(resize_bilinear(s.detach(), spatial_size(fused)));
  return at::equal(at::cat(resized, 1), fused.detach());
}

at::Tensor project_fused(const at::Tensor& fused, const at::Tensor& weight, const at::Tensor& bias) {
  return at::conv2d(fused, weight, bias);
}

at::Tensor project_stages(const std::vector<at::Tensor>& stages, const at::Tensor& weight, const at::Tensor& bias,
                          std::array<std::int64_t, 2> size) {
  at::Tensor out;
  std::int64_t offset = 0;
  for (auto& s : stages) {
    auto part = resize_bilinear(at::conv2d(s, weight.narrow(1, offset, s.size(1))), size);
    offset += s.size(1);
    out = out.defined() ? out.add(part) : part;
  }
  if (offset != weight.size(1))
    throw Error("s4t latent projection: the stages have " + std::to_string(offset) + " channels, the projection reads " +
                std::to_string(weight.size(1)));
  return bias.defined() ? out.add(bias.view({1, -1, 1, 1})) : out;
}

}  // namespace s4t::s4t_method
