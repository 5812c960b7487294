// pascal_context pad = "center" (the released code's PadImage) on a tiny PASCAL_MT-layout dataset: the
// image sits in the middle, image/labels/targets/masks are the bottom/right-padded sample moved by half
// the excess, and the padding on every side holds the padding constants.
#include <ATen/ATen.h>

#include "fixtures.hpp"
#include "helpers.hpp"
#include "s4t_testkit/doctest.hpp"
#include "test_support.hpp"

using namespace s4t;
using namespace s4t::test;
namespace fx = s4t::test::fixtures;
using at::indexing::Slice;

#ifdef S4T_HAVE_MATIO

namespace {
// `centred` is `corner` (padded bottom/right to 32 x 32) with the h x w image moved to the centre.
void check_centred(const Sample& corner, const Sample& centred, std::int64_t h, std::int64_t w) {
  const std::int64_t top = (32 - h) / 2, left = (32 - w) / 2;
  CHECK(centred.image.sizes() == at::IntArrayRef{3, 32, 32});
  CHECK(centred.targets.size() == corner.targets.size());  // no helper entries left in the sample
  CHECK(centred.masks.size() == corner.masks.size());
  CHECK_FALSE(centred.targets.count("__pascal_context_extent"));

  // The image's own pixels, identical, at (top, left) instead of (0, 0).
  auto inner = [&](const at::Tensor& t, std::int64_t y, std::int64_t x) {
    return t.index({"...", Slice(y, y + h), Slice(x, x + w)});
  };
  CHECK(at::equal(inner(centred.image, top, left), inner(corner.image, 0, 0)));
  for (auto& [name, t] : corner.targets) {
    INFO(name);
    CHECK(at::equal(inner(centred.targets.at(name), top, left), inner(t, 0, 0)));
    CHECK(at::equal(inner(centred.masks.at(name), top, left), inner(corner.masks.at(name), 0, 0)));
  }

  // Padding on all four sides: image 0, semseg 255, every mask false.
  auto outside = at::ones({32, 32}, at::kBool);
  outside.index_put_({Slice(top, top + h), Slice(left, left + w)}, false);
  CHECK(outside.index({Slice(0, top)}).all().item<bool>());
  CHECK(outside.index({Slice(), Slice(0, left)}).all().item<bool>());
  CHECK(centred.image.abs().sum(0).masked_select(outside).max().item<float>() == 0.0f);
  CHECK((centred.targets.at("semseg").masked_select(outside) == 255).all().item<bool>());
  for (auto& [name, m] : centred.masks) {
    INFO(name);
    CHECK_FALSE(m.squeeze(0).masked_select(outside).any().item<bool>());
  }
}
}  // namespace

TEST_CASE("pascal_context pad = center: the image centred, labels and masks moved with it") {
  TempDir tmp;
  auto f = fx::write_pascal(tmp.path() / "PASCALContext", 2, 2);
  const cv::Size size = fx::pascal_size(2);  // 20 x 30 in a 32 x 32 frame: 6 rows / 1 column on the top/left
  const std::int64_t h = size.height, w = size.width;
  REQUIRE((32 - h) / 2 == 6);
  REQUIRE((32 - w) / 2 == 1);

  SUBCASE("target role: padded to height x width") {
    auto make = [&](const std::string& pad) {
      return make_real_dataset("pascal_context", "target",
                               {{"root", Value(f.root.string())},
                                {"classes", Value(std::string("pascal_taskonomy"))},
                                {"height", Value(std::int64_t{32})},
                                {"width", Value(std::int64_t{32})},
                                {"pad", Value(pad)}});
    };
    auto corner = make("bottom_right")->get(0);
    auto centred = make("center")->get(0);
    check_centred(corner, centred, h, w);
    // A known label keeps its place relative to the image: VOC 9 chair (-> 5) at image row 1, column 0.
    CHECK(corner.targets.at("semseg")[1][0].item<std::int64_t>() == 5);
    CHECK(centred.targets.at("semseg")[6 + 1][1].item<std::int64_t>() == 5);
  }
  SUBCASE("source role: a crop larger than the image is padded the same way (same augmentation draws)") {
    auto make = [&](const std::string& pad) {
      return make_real_dataset("pascal_context", "source",
                               {{"root", Value(f.root.string())},
                                {"split", Value(std::string("val"))},
                                {"classes", Value(std::string("pascal_taskonomy"))},
                                {"crop_height", Value(std::int64_t{32})},
                                {"crop_width", Value(std::int64_t{32})},
                                {"scale_min", Value(1.0)},
                                {"scale_max", Value(1.0)},
                                {"photometric", Value(false)},
                                {"pad", Value(pad)}});
    };
    check_centred(make("bottom_right")->get(0), make("center")->get(0), h, w);
  }
}

TEST_CASE("pascal_context pad = center: an image that fills the frame is unchanged") {
  TempDir tmp;
  auto f = fx::write_pascal(tmp.path() / "PASCALContext", 2, 2);
  const cv::Size size = fx::pascal_size(2);
  auto make = [&](const std::string& pad) {
    return make_real_dataset("pascal_context", "target",
                             {{"root", Value(f.root.string())},
                              {"height", Value(std::int64_t{size.height})},
                              {"width", Value(std::int64_t{size.width})},
                              {"pad", Value(pad)}});
  };
  auto a = make("bottom_right")->get(0);
  auto b = make("center")->get(0);
  CHECK(at::equal(a.image, b.image));
  CHECK(at::equal(a.targets.at("semseg"), b.targets.at("semseg")));
}

#endif
