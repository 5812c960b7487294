#include "simclr_views.hpp"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "s4t/tensor_ops.hpp"

namespace s4t::tttpp {

namespace {
// Uniforms one image may consume: 10 crop attempts of 2, the crop's position 2, flip 1, jitter 1 + 3,
// grayscale 1. A fixed block per image keeps the draws of image i independent of the others' choices.
constexpr std::int64_t kCropAttempts = 10;
constexpr std::int64_t kDrawsPerImage = 2 * kCropAttempts + 2 + 1 + 4 + 1;
}  // namespace

at::Tensor simclr_view(const at::Tensor& images, const ViewSettings& s) {
  const std::int64_t n = images.size(0), h = images.size(2), w = images.size(3);
  const at::Tensor draws = at::rand({n, kDrawsPerImage}, at::TensorOptions().dtype(at::kDouble));
  const double* draw = draws.data_ptr<double>();
  std::vector<at::Tensor> out;
  out.reserve(static_cast<size_t>(n));
  for (std::int64_t i = 0; i < n; ++i, draw += kDrawsPerImage) {
    std::int64_t used = 0;
    auto u01 = [&] { return draw[used++]; };
    auto uniform = [&](double a, double b) { return a + (b - a) * u01(); };
    at::Tensor x = images.narrow(0, i, 1);
    // random resized crop
    std::int64_t ch = h, cw = w, top = 0, left = 0;
    for (std::int64_t attempt = 0; attempt < kCropAttempts; ++attempt) {
      const double area = uniform(s.crop_min, 1.0) * static_cast<double>(h * w);
      const double ratio = std::exp(uniform(std::log(3.0 / 4.0), std::log(4.0 / 3.0)));
      const auto tw = static_cast<std::int64_t>(std::lround(std::sqrt(area * ratio)));
      const auto th = static_cast<std::int64_t>(std::lround(std::sqrt(area / ratio)));
      if (tw >= 1 && th >= 1 && tw <= w && th <= h) {
        ch = th, cw = tw;
        top = static_cast<std::int64_t>(u01() * static_cast<double>(h - th + 1));
        left = static_cast<std::int64_t>(u01() * static_cast<double>(w - tw + 1));
        top = std::min(top, h - th), left = std::min(left, w - tw);
        break;
      }
    }
    x = resize_bilinear(x.narrow(2, top, ch).narrow(3, left, cw), {h, w});
    if (u01() < 0.5) x = x.flip({3});
    if (u01() < s.jitter_p) {
      const double b = uniform(-s.jitter, s.jitter), c = uniform(1.0 - s.jitter, 1.0 + s.jitter),
                   sat = uniform(1.0 - s.jitter, 1.0 + s.jitter);
      at::Tensor mean = x.mean({1, 2, 3}, true);
      x = x + b * x.std();
      x = (x - mean) * c + mean;
      at::Tensor gray = x.mean(1, true);
      x = (x - gray) * sat + gray;
    }
    if (u01() < s.gray_p) x = x.mean(1, true).expand_as(x).contiguous();
    out.push_back(x);
  }
  return at::cat(out, 0);
}

}  // namespace s4t::tttpp
