// The folded patch embedding is the same linear map as bilinear resize + strided patch convolution:
// values and gradients (input, weight, bias) agree to 1e-5 relative wherever it applies, and every
// other size takes the direct form unchanged.
#include <ATen/ATen.h>

#include <cstdint>

#include "patch_embedding.hpp"
#include "s4t/tensor_ops.hpp"
#include "s4t_testkit/doctest.hpp"

using namespace s4t;

namespace {

double relative_error(const at::Tensor& a, const at::Tensor& b) {
  return a.sub(b).abs().max().item<double>() / b.abs().max().item<double>();
}

struct Case {
  std::int64_t h, w, res, patch;
};

// Forward and backward of both forms on the same random input, weights and output gradient.
void check_equivalent(const Case& c) {
  CAPTURE(c.h);
  CAPTURE(c.w);
  CAPTURE(c.res);
  CAPTURE(c.patch);
  at::manual_seed(0);
  const std::int64_t batch = 2, channels = 6, dim = 5;
  auto x0 = at::randn({batch, channels, c.h, c.w});
  auto w0 = at::randn({dim, channels, c.patch, c.patch}).div(c.patch);
  auto b0 = at::randn({dim});
  auto g = at::randn({batch, dim, c.res / c.patch, c.res / c.patch});
  at::Tensor y[2], gx[2], gw[2], gb[2];
  for (int form = 0; form < 2; ++form) {
    auto x = x0.clone().requires_grad_(), w = w0.clone().requires_grad_(), b = b0.clone().requires_grad_();
    y[form] = form == 0 ? tbs::patch_embed_direct(x, w, b, c.res) : tbs::patch_embed(x, w, b, c.res);
    y[form].mul(g).sum().backward();
    gx[form] = x.grad();
    gw[form] = w.grad();
    gb[form] = b.grad();
  }
  REQUIRE(y[1].sizes() == y[0].sizes());
  CHECK(relative_error(y[1], y[0]) < 1e-5);
  CHECK(relative_error(gx[1], gx[0]) < 1e-5);
  CHECK(relative_error(gw[1], gw[0]) < 1e-5);
  CHECK(relative_error(gb[1], gb[0]) < 1e-5);
}

}  // namespace

TEST_CASE("s4t patch embedding: foldable factors and bilinear weights") {
  CHECK(tbs::foldable_factor(32, 256, 16) == 8);
  CHECK(tbs::foldable_factor(16, 64, 4) == 4);
  CHECK(tbs::foldable_factor(64, 64, 4) == 1);
  CHECK(tbs::foldable_factor(24, 256, 16) == 0);   // not integral
  CHECK(tbs::foldable_factor(8, 256, 16) == 0);    // 32 does not divide the patch
  CHECK(tbs::foldable_factor(512, 256, 16) == 0);  // downsampling
  auto a = tbs::bilinear_patch_weights(8, 16, at::TensorOptions().dtype(at::kDouble));
  REQUIRE(a.sizes() == at::IntArrayRef({16, 4}));
  CHECK(a.sum(1).sub(1).abs().max().item<double>() < 1e-12);  // each upsampled row is a convex combination
  CHECK(a[0][0].item<double>() == doctest::Approx(0.4375));   // row 0 reads source −1 at (1 − 0.5625)
  CHECK(a[15][3].item<double>() == doctest::Approx(0.4375));
}

TEST_CASE("s4t patch embedding: the folded form equals resize + patch convolution (1e-5, values and gradients)") {
  check_equivalent({32, 32, 256, 16});  // ResNet-50 at 128²: s = 8, k = 2
  check_equivalent({16, 16, 64, 4});    // the demo: s = 4, k = 1
  check_equivalent({8, 8, 128, 16});    // s = 16 = p, k = 1
  check_equivalent({16, 32, 64, 8});    // different factors per axis (4 and 2)
  check_equivalent({20, 20, 60, 6});    // s = 3: a scale that is not a power of two
  check_equivalent({64, 32, 64, 4});    // one axis not resized (s = 1 there)
}

TEST_CASE("s4t patch embedding: sizes it does not apply to take the direct form, bit for bit") {
  at::manual_seed(1);
  auto w = at::randn({5, 6, 16, 16}), b = at::randn({5});
  for (std::int64_t h : {24, 256, 512}) {  // non-integral, no resize, downsampling
    CAPTURE(h);
    auto x = at::randn({2, 6, h, h});
    CHECK(at::equal(tbs::patch_embed(x, w, b, 256), tbs::patch_embed_direct(x, w, b, 256)));
  }
  auto x = at::randn({1, 6, 24, 24});
  CHECK(at::equal(tbs::patch_embed_direct(x, w, b, 256),
                  at::conv2d(resize_bilinear(x, {256, 256}), w, b, {16, 16})));
}
