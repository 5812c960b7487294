#include "simclr_views.hpp"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "s4t/tensor_ops.hpp"

namespace s4t::tttpp {

at::Tensor simclr_view(const at::Tensor& images, const ViewSettings& s, std::mt19937_64& rng) {
  const std::int64_t n = images.size(0), h = images.size(2), w = images.size(3);
  std::uniform_real_distribution<double> u01(0.0, 1.0);
  auto uniform = [&](double a, double b) { return a + (b - a) * u01(rng); };
  std::vector<at::Tensor> out;
  out.reserve(static_cast<size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) {
    at::Tensor x = images.narrow(0, i, 1);
    // random resized crop
    std::int64_t ch = h, cw = w, top = 0, left = 0;
    for (int attempt = 0; attempt < 10; ++attempt) {
      const double area = uniform(s.crop_min, 1.0) * static_cast<double>(h * w);
      const double ratio = std::exp(uniform(std::log(3.0 / 4.0), std::log(4.0 / 3.0)));
      const auto tw = static_cast<std::int64_t>(std::lround(std::sqrt(area * ratio)));
      const auto th = static_cast<std::int64_t>(std::lround(std::sqrt(area / ratio)));
      if (tw >= 1 && th >= 1 && tw <= w && th <= h) {
        ch = th, cw = tw;
        top = static_cast<std::int64_t>(u01(rng) * static_cast<double>(h - th + 1));
        left = static_cast<std::int64_t>(u01(rng) * static_cast<double>(w - tw + 1));
        top = std::min(top, h - th), left = std::min(left, w - tw);
        break;
      }
    }
    x = resize_bilinear(x.narrow(2, top, ch).narrow(3, left, cw), {h, w});
    if (u01(rng) < 0.5) x = x.flip({3});
    if (u01(rng) < s.jitter_p) {
      const double b = uniform(-s.jitter, s.jitter), c = uniform(1.0 - s.jitter, 1.0 + s.jitter),
                   sat = uniform(1.0 - s.jitter, 1.0 + s.jitter);
      at::Tensor mean = x.mean({1, 2, 3}, true);
      x = x + b * x.std();
      x = (x - mean) * c + mean;
      at::Tensor gray = x.mean(1, true);
      x = (x - gray) * sat + gray;
    }
    if (u01(rng) < s.gray_p) x = x.mean(1, true).expand_as(x).contiguous();
    out.push_back(x);
  }
  return at::cat(out, 0);
}

}  // namespace s4t::tttpp
