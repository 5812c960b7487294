// The per-stage latent projection is the 1×1 convolution of the fused map made of the resized stages:
// values and gradients (stages, weight, bias) agree to 1e-5 relative; a fused map that is anything else
// is recognised as such, so S4T keeps the direct form there.
#include <ATen/ATen.h>

#include <vector>

#include "latent_projection.hpp"
#include "s4t/tensor_ops.hpp"
#include "s4t_testkit/doctest.hpp"

using namespace s4t;
using namespace s4t::s4t_method;

namespace {

double relative_error(const at::Tensor& a, const at::Tensor& b) {
  return a.sub(b).abs().max().item<double>() / b.abs().max().item<double>();
}

// ResNet-like stages: fine to coarse, channels doubling, strides 4..32 of a 64×48 input.
std::vector<at::Tensor> make_stages() {
  at::manual_seed(1);
  return {at::randn({2, 8, 16, 12}), at::randn({2, 16, 8, 6}), at::randn({2, 32, 4, 3}), at::randn({2, 64, 2, 2})};
}

at::Tensor fuse(const std::vector<at::Tensor>& stages, std::array<std::int64_t, 2> size) {
  std::vector<at::Tensor> resized;
  for (auto& s : stages) resized.push_back(resize_bilinear(s, size));
  return at::cat(resized, 1);
}

}  // namespace

TEST_CASE("s4t latent projection: per stage equals the projection of the fused map (1e-5, values and gradients)") {
  const auto stages0 = make_stages();
  const std::array<std::int64_t, 2> size{16, 12};
  auto w0 = at::randn({12, 120, 1, 1}).div(10.0);
  auto b0 = at::randn({12});
  auto g = at::randn({2, 12, 16, 12});
  at::Tensor y[2], gw[2], gb[2];
  std::vector<at::Tensor> gs[2];
  for (int form = 0; form < 2; ++form) {
    std::vector<at::Tensor> stages;
    for (auto& s : stages0) stages.push_back(s.clone().requires_grad_());
    auto w = w0.clone().requires_grad_(), b = b0.clone().requires_grad_();
    y[form] = form == 0 ? project_fused(fuse(stages, size), w, b) : project_stages(stages, w, b, size);
    y[form].mul(g).sum().backward();
    gw[form] = w.grad();
    gb[form] = b.grad();
    for (auto& s : stages) gs[form].push_back(s.grad());
  }
  REQUIRE(y[1].sizes() == y[0].sizes());
  CHECK(relative_error(y[1], y[0]) < 1e-5);
  CHECK(relative_error(gw[1], gw[0]) < 1e-5);
  CHECK(relative_error(gb[1], gb[0]) < 1e-5);
  for (size_t k = 0; k < stages0.size(); ++k) {
    CAPTURE(k);
    CHECK(relative_error(gs[1][k], gs[0][k]) < 1e-5);
  }
  CHECK_FALSE(at::equal(y[1], y[0]));  // a different evaluation order: float rounding, not the same kernel
}

TEST_CASE("s4t latent projection: only a fused map of the resized stages takes the per-stage form") {
  const auto stages = make_stages();
  const std::array<std::int64_t, 2> size{16, 12};
  auto fused = fuse(stages, size);
  CHECK(fused_is_resized_stages(fused, stages));
  CHECK(fused_is_resized_stages(fused.contiguous(at::MemoryFormat::ChannelsLast), stages));  // the layout does not matter
  CHECK_FALSE(fused_is_resized_stages(fused.add(1e-3), stages));                            // another map of that shape
  CHECK_FALSE(fused_is_resized_stages(fuse({stages[1], stages[0], stages[2], stages[3]}, size), stages));  // other order
  CHECK_FALSE(fused_is_resized_stages(fused.narrow(1, 0, 119), stages));                    // other channels
  CHECK_FALSE(fused_is_resized_stages(at::Tensor(), stages));
  CHECK_FALSE(fused_is_resized_stages(fused, {}));
}
