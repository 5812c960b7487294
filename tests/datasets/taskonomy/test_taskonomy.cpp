// taskonomy on a tiny Omnidata-layout dataset: split CSV, pairing, S4T encodings, test subset, classes,
// resizing and bad input.
#include <ATen/ATen.h>

#include <cmath>

#include "fixtures.hpp"
#include "helpers.hpp"
#include "s4t_testkit/doctest.hpp"
#include "test_support.hpp"

using namespace s4t;
using namespace s4t::test;
namespace fx = s4t::test::fixtures;

namespace {
std::map<std::string, Value> opts(const fx::TaskonomyFixture& f, std::map<std::string, Value> extra = {}) {
  extra["root"] = Value(f.root.string());
  extra["height"] = Value(std::int64_t{16});  // the fixture's native size: no resize, exact encodings
  extra["width"] = Value(std::int64_t{16});
  return extra;
}
}  // namespace

TEST_CASE("taskonomy: splits, test subset, pairing and the S4T encodings") {
  TempDir tmp;
  auto f = fx::write_taskonomy(tmp.path() / "taskonomy", 3);
  // target role = test split: delta's 10 views, first 10 % -> 1
  auto test = make_real_dataset("taskonomy", "target", opts(f, {{"classes", Value(std::string("nyud_taskonomy"))}}));
  CHECK(test->size() == 1);
  CHECK(make_real_dataset("taskonomy", "target", opts(f, {{"test_fraction", Value(0.5)}}))->size() == 5);
  CHECK(make_real_dataset("taskonomy", "target", opts(f, {{"test_fraction", Value(1.0)}}))->size() == 10);
  // source role = train + val buildings (alpha, beta, gamma; woodbine excluded; notdownloaded absent)
  CHECK(make_real_dataset("taskonomy", "source", opts(f))->size() == 9);
  CHECK(make_real_dataset("taskonomy", "target", opts(f, {{"split", Value(std::string("train"))}}))->size() == 6);
  CHECK(make_real_dataset("taskonomy", "target", opts(f, {{"split", Value(std::string("val"))}}))->size() == 3);
  CHECK(make_real_dataset("taskonomy", "target",
                          opts(f, {{"split", Value(std::string("train"))},
                                   {"exclude_buildings", Value(std::vector<std::string>{})}}))->size() == 9);

  auto tasks = test->tasks();
  REQUIRE(tasks.size() == 4);
  CHECK(tasks[0].class_names ==
        std::vector<std::string>{"refrigerator", "table", "toilet", "sofa", "bed", "sink", "chair"});
  CHECK((tasks[3].loss == LossKind::L1));
  CHECK((tasks[3].activation == Activation::None));
  CHECK(test->image_size() == std::array<std::int64_t, 2>{16, 16});

  const int s = 16;
  auto x = test->get(0);
  // rgb -> [-1, 1]
  auto rgb = fx::image(s, s, 9);  // delta's first view is the 10th written image
  for (int c = 0; c < 3; ++c)
    CHECK(x.image[c][3][7].item<float>() == doctest::Approx(rgb.at<cv::Vec3b>(3, 7)[c] / 127.5 - 1.0).epsilon(1e-6));
  // semseg: 14 refrigerator -> 0, 3 chair -> 6, 2 bottle -> 255 (not shared with NYUD), 0 / 1 -> 255
  auto seg = x.targets.at("semseg");
  CHECK(seg[5][2].item<int64_t>() == 0);
  CHECK(seg[2][12].item<int64_t>() == 6);
  CHECK(seg[12][12].item<int64_t>() == 255);
  CHECK(seg[0][0].item<int64_t>() == 255);
  CHECK(seg[0][1].item<int64_t>() == 255);
  // depth: log(1 + 511) / log(2^16) = 9 / 16; every pixel valid (S4T), incl. 65535
  auto depth = x.targets.at("depth");
  CHECK(depth[0][4][4].item<float>() == doctest::Approx(9.0 / 16.0).epsilon(1e-6));
  CHECK(depth[0][4][s - 1].item<float>() == doctest::Approx(std::log(65536.0) / std::log(65536.0)).epsilon(1e-6));
  CHECK(x.masks.at("depth").all().item<bool>());
  // normals: (255 - v) mapped to [-1, 1]
  auto n = x.targets.at("normals");
  CHECK(n[0][1][1].item<float>() == doctest::Approx(1.0 - 2.0 * 200 / 255).epsilon(1e-6));
  CHECK(n[1][1][1].item<float>() == doctest::Approx(1.0 - 2.0 * 100 / 255).epsilon(1e-6));
  CHECK(n[2][1][1].item<float>() == doctest::Approx(1.0 - 2.0 * 55 / 255).epsilon(1e-6));
  // edges: 40960 / 409.6 * 2 - 1 = 199 at one pixel, -1 elsewhere, then blurred with sigma 4 (values from
  // scipy.ndimage.gaussian_filter(img, sigma=4) on the same image)
  auto e = x.targets.at("edge");
  CHECK(e[0][8][8].item<float>() == doctest::Approx(0.9930960312432192).epsilon(1e-4));
  CHECK(e[0][0][0].item<float>() == doctest::Approx(-0.9081217610615645).epsilon(1e-4));
  CHECK(e[0][8][0].item<float>() == doctest::Approx(-0.5720722568168634).epsilon(1e-4));
  CHECK(e[0][15][15].item<float>() == doctest::Approx(-0.7540426947058514).epsilon(1e-4));
}

TEST_CASE("taskonomy: native/pascal classes, resize to 8 x 8, masked far depth, flip-only augmentation") {
  TempDir tmp;
  auto f = fx::write_taskonomy(tmp.path() / "taskonomy", 2);
  auto native = make_real_dataset("taskonomy", "target", opts(f, {{"classes", Value(std::string("native"))}}), {"semseg"});
  CHECK(native->tasks()[0].channels == 17);
  auto seg = native->get(0).targets.at("semseg");
  CHECK(seg[0][1].item<int64_t>() == 0);    // background
  CHECK(seg[5][2].item<int64_t>() == 13);   // refrigerator
  CHECK(seg[0][0].item<int64_t>() == 255);  // uncertain

  auto pascal = make_real_dataset("taskonomy", "target", opts(f, {{"classes", Value(std::string("pascal_taskonomy"))}}), {"semseg"});
  seg = pascal->get(0).targets.at("semseg");
  CHECK(seg[12][12].item<int64_t>() == 2);  // bottle
  CHECK(seg[2][12].item<int64_t>() == 5);   // chair
  CHECK(seg[5][2].item<int64_t>() == 255);  // refrigerator: not in PASCAL
  CHECK_THROWS_AS(make_real_dataset("taskonomy", "target", opts(f, {{"classes", Value(std::string("nyud_pascal"))}})), ConfigError);

  auto small = make_real_dataset("taskonomy", "target",
                                 {{"root", Value(f.root.string())}, {"height", Value(std::int64_t{8})},
                                  {"width", Value(std::int64_t{8})}, {"mask_invalid_depth", Value(true)}});
  CHECK(small->image_size() == std::array<std::int64_t, 2>{8, 8});
  auto x = small->get(0);
  CHECK(x.image.sizes() == at::IntArrayRef{3, 8, 8});
  for (auto& [name, t] : x.targets) CHECK(t.size(-1) == 8);
  auto far = make_real_dataset("taskonomy", "target", opts(f, {{"mask_invalid_depth", Value(true)}}), {"depth"})->get(0);
  CHECK(far.masks.at("depth")[0][3][15].item<bool>() == false);  // 65535 column
  CHECK(far.masks.at("depth")[0][3][14].item<bool>() == true);

  // Source: flip only; the normal x component is negated on a flip (flip_normals).
  auto src = make_real_dataset("taskonomy", "source", opts(f), {}, 1);
  auto ref = make_real_dataset("taskonomy", "target", opts(f, {{"split", Value(std::string("trainval"))}}));
  CHECK(src->size() == ref->size());
  int flipped = 0;
  for (int i = 0; i < src->size(); ++i) {
    auto a = src->get(i), b = ref->get(i);
    if (!a.image.equal(b.image)) {
      ++flipped;
      CHECK(a.image.equal(b.image.flip({2})));
      CHECK(a.targets.at("normals")[0].equal(b.targets.at("normals")[0].flip({1}).neg()));
    }
  }
  CHECK(flipped > 0);
}

TEST_CASE("taskonomy bad input") {
  TempDir tmp;
  auto f = fx::write_taskonomy(tmp.path() / "taskonomy", 3);
  auto make = [&](std::map<std::string, Value> extra = {}) {
    extra.emplace("split", Value(std::string("train")));
    return make_real_dataset("taskonomy", "target", opts(f, extra));
  };
  SUBCASE("missing split CSV") {
    CHECK(contains(data_error_of([&] { make({{"split_file", Value(std::string("nope.csv"))}}); }), "nope.csv"));
  }
  SUBCASE("a building folder missing for one domain") {
    std::filesystem::remove_all(f.root / "normal" / "taskonomy" / "beta");
    auto msg = data_error_of([&] { make(); });
    CHECK(contains(msg, "normal/taskonomy/beta"));
    CHECK(make({{"on_error", Value(std::string("skip"))}})->size() == 3);
  }
  SUBCASE("a view missing in one domain") {
    std::filesystem::remove(fx::taskonomy_file(f.root, "depth_zbuffer", "alpha", 1));
    auto msg = data_error_of([&] { make(); });
    CHECK(contains(msg, "point_1_view_1_domain_depth_zbuffer.png"));
    CHECK(make({{"on_error", Value(std::string("skip"))}})->size() == 5);
    // a task that is not requested does not need its files
    CHECK(make_real_dataset("taskonomy", "target", opts(f, {{"split", Value(std::string("train"))}}), {"semseg"})->size() == 6);
  }
  SUBCASE("8-bit depth instead of 16-bit") {
    fx::write_png(fx::taskonomy_file(f.root, "depth_zbuffer", "alpha", 0), cv::Mat(16, 16, CV_8UC1, cv::Scalar(3)));
    auto msg = data_error_of([&] { make()->get(0); });
    CHECK(contains(msg, "point_0_view_0_domain_depth_zbuffer.png"));
    CHECK(contains(msg, "16-bit"));
  }
  SUBCASE("semantic label outside 0..17") {
    fx::write_png(fx::taskonomy_file(f.root, "segment_semantic", "alpha", 2), cv::Mat(16, 16, CV_8UC1, cv::Scalar(18)));
    auto msg = data_error_of([&] { make()->get(2); });
    CHECK(contains(msg, "segment_semantic.png"));
    CHECK(contains(msg, "label 18"));
  }
  SUBCASE("mismatched sizes") {
    fx::write_png(fx::taskonomy_file(f.root, "normal", "beta", 0), cv::Mat(8, 16, CV_8UC3, cv::Scalar(1, 2, 3)));
    auto msg = data_error_of([&] { make()->get(3); });
    CHECK(contains(msg, "domain_normal.png"));
    CHECK(contains(msg, "same size"));
  }
  SUBCASE("truncated rgb PNG, skipped with on_error = skip") {
    auto file = fx::taskonomy_file(f.root, "rgb", "alpha", 1);
    std::filesystem::resize_file(file, std::filesystem::file_size(file) - 16);
    CHECK(contains(data_error_of([&] { make()->get(1); }), "domain_rgb.png"));
    auto d = make({{"on_error", Value(std::string("skip"))}});
    CHECK(same_sample(d->get(1), d->get(2)));
  }
  SUBCASE("no building of the split downloaded") {
    std::filesystem::remove_all(f.root / "rgb" / "taskonomy" / "gamma");
    for (auto dom : {"segment_semantic", "depth_zbuffer", "normal", "edge_occlusion"})
      std::filesystem::remove_all(f.root / dom / "taskonomy" / "gamma");
    auto msg = data_error_of([&] { make({{"split", Value(std::string("val"))}}); });
    CHECK(contains(msg, "no views found"));
  }
}
