#include "s4t/tensor_ops.hpp"

#include <ATen/ops/upsample_bilinear2d.h>

namespace s4t {

at::Tensor resize_bilinear(const at::Tensor& x, std::array<std::int64_t, 2> size) {
  if (x.size(-2) == size[0] && x.size(-1) == size[1]) return x;
  return at::upsample_bilinear2d(x, {size[0], size[1]}, /*align_corners=*/false);
}

std::array<std::int64_t, 2> spatial_size(const at::Tensor& x) { return {x.size(-2), x.size(-1)}; }

}  // namespace s4t
