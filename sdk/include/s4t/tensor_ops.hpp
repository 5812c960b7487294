#pragma once
// Small tensor helpers used by several plugins (kept here so plugins do not copy each other).
#include <ATen/core/Tensor.h>

#include <array>
#include <cstdint>

#include "s4t/export.hpp"

namespace s4t {
/// Bilinear resize with align_corners = false (the only resize mode of the S4T model). A no-op when
/// the size already matches.
S4T_API at::Tensor resize_bilinear(const at::Tensor& x, std::array<std::int64_t, 2> size);
/// Spatial size (H, W) of an N×C×H×W tensor.
S4T_API std::array<std::int64_t, 2> spatial_size(const at::Tensor& x);
}  // namespace s4t
