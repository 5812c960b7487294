// nyudv2 on tiny datasets in the MTI-Net and ATRC layouts: encodings, class mapping, ignore values,
// augmentation, test-time sizing, noise, thread safety and every bad-input case.
#include <ATen/ATen.h>

#include <fstream>
#include <thread>

#include "fixtures.hpp"
#include "helpers.hpp"
#include "s4t_testkit/doctest.hpp"
#include "test_support.hpp"

using namespace s4t;
using namespace s4t::test;
namespace fx = s4t::test::fixtures;

namespace {
constexpr int H = 24, W = 32;
const double kMean[3] = {0.485, 0.456, 0.406}, kStd[3] = {0.229, 0.224, 0.225};

std::map<std::string, Value> opts(const fx::NyudFixture& f, std::map<std::string, Value> extra = {}) {
  extra["root"] = Value(f.root.string());
  return extra;
}
}  // namespace

TEST_CASE("nyudv2 MTI-Net layout: tensors, encodings and the nyud_taskonomy classes") {
  TempDir tmp;
  auto f = fx::write_nyud(tmp.path() / "NYUDv2", false, H, W, 3, 2);
  auto d = make_real_dataset("nyudv2", "target", opts(f, {{"classes", Value(std::string("nyud_taskonomy"))}}));
  CHECK(d->size() == 2);  // the val split for the target role
  CHECK(d->image_size() == std::array<std::int64_t, 2>{H, W});
  auto tasks = d->tasks();
  REQUIRE(tasks.size() == 4);
  CHECK(tasks[0].name == "semseg");
  CHECK(tasks[0].class_names ==
        std::vector<std::string>{"refrigerator", "table", "toilet", "sofa", "bed", "sink", "chair"});
  const int k = 3;  // first val sample
  auto s = d->get(0);
  CHECK(s.image.sizes() == at::IntArrayRef{3, H, W});
  CHECK((s.image.scalar_type() == at::kFloat));
  // JPEG is lossy: compare the ImageNet-normalised image with a tolerance of a few grey levels.
  auto rgb = fx::image(H, W, k);
  double worst = 0;
  for (int y = 0; y < H; ++y)
    for (int x = 0; x < W; ++x)
      for (int c = 0; c < 3; ++c) {
        const double expect = (rgb.at<cv::Vec3b>(y, x)[c] / 255.0 - kMean[c]) / kStd[c];
        worst = std::max(worst, std::abs(s.image[c][y][x].item<double>() - expect));
      }
  CHECK(worst < 12.0 / 255.0 / 0.224);

  auto seg = s.targets.at("semseg");
  CHECK((seg.scalar_type() == at::kLong));
  CHECK(seg.sizes() == at::IntArrayRef{H, W});
  CHECK(seg[0][0].item<int64_t>() == 0);           // raw 24 refrigerator -> 0
  CHECK(seg[0][W - 1].item<int64_t>() == 6);       // raw 5 chair -> 6
  CHECK(seg[H - 2][W - 1].item<int64_t>() == 255); // raw 0 void
  CHECK(seg[H - 1][W - 1].item<int64_t>() == 255); // raw 40 otherprop: not shared
  CHECK(s.masks.at("semseg").sizes() == at::IntArrayRef{1, H, W});
  CHECK((s.masks.at("semseg").scalar_type() == at::kBool));
  CHECK(s.masks.at("semseg")[0][H - 1][W - 1].item<bool>() == false);
  CHECK(s.masks.at("semseg")[0][0][0].item<bool>() == true);

  auto depth = s.targets.at("depth");
  CHECK(depth.sizes() == at::IntArrayRef{1, H, W});
  CHECK(depth[0][5][7].item<float>() == doctest::Approx(fx::nyud_depth(5, 7, k)));
  CHECK(s.masks.at("depth")[0][5][0].item<bool>() == false);  // 0 = invalid
  CHECK(s.masks.at("depth")[0][5][1].item<bool>() == true);

  auto normals = s.targets.at("normals");
  CHECK(normals.sizes() == at::IntArrayRef{3, H, W});
  CHECK(normals[0][3][2].item<float>() == doctest::Approx(0.6));
  CHECK(normals[0][3][W - 1].item<float>() == doctest::Approx(-0.6));
  CHECK(normals[2][3][2].item<float>() == doctest::Approx(0.8));
  CHECK(s.masks.at("normals")[0][0][4].item<bool>() == false);  // zero vector = invalid
  CHECK(s.masks.at("normals")[0][1][4].item<bool>() == true);

  auto edge = s.targets.at("edge");
  CHECK(edge.sizes() == at::IntArrayRef{1, H, W});
  CHECK(edge[0][4][W / 2].item<float>() == 1.0f);
  CHECK(edge[0][4][W / 2 + 1].item<float>() == 0.0f);
  CHECK(s.masks.at("edge").all().item<bool>());
}

TEST_CASE("nyudv2 ATRC layout is detected and decoded (PNG image, 0/255 edges, 2v/255-1 normals)") {
  TempDir tmp;
  auto f = fx::write_nyud(tmp.path() / "NYUDv2", true, H, W, 2, 1);
  auto d = make_real_dataset("nyudv2", "target", opts(f, {{"classes", Value(std::string("native"))}}));
  CHECK(contains(d->describe(), "ATRC"));
  auto s = d->get(0);
  auto rgb = fx::image(H, W, 2);
  for (int c = 0; c < 3; ++c)  // PNG is lossless: exact normalisation
    CHECK(s.image[c][5][9].item<float>() ==
          doctest::Approx((rgb.at<cv::Vec3b>(5, 9)[c] / 255.0 - kMean[c]) / kStd[c]).epsilon(1e-5));
  const double v = std::round(0.6 * 127.5 + 127.5);  // what the fixture stored
  CHECK(s.targets.at("normals")[0][3][2].item<float>() == doctest::Approx(2 * v / 255 - 1).epsilon(1e-6));
  CHECK(s.targets.at("edge")[0][0][W / 2].item<float>() == 1.0f);
  // native NYU-40 classes: raw v -> v - 1, 0 -> 255
  CHECK(d->tasks()[0].channels == 40);
  CHECK(s.targets.at("semseg")[0][0].item<int64_t>() == 23);
  CHECK(s.targets.at("semseg")[H - 1][W - 1].item<int64_t>() == 39);
  CHECK(s.targets.at("semseg")[H - 2][W - 1].item<int64_t>() == 255);
  // forcing the other layout fails on the first missing file, naming it
  auto msg = data_error_of([&] { make_real_dataset("nyudv2", "target", opts(f, {{"layout", Value(std::string("mtinet"))}})); });
  CHECK(contains(msg, "0003.jpg"));
}

TEST_CASE("nyudv2 reads only the requested tasks; nyud_pascal classes") {
  TempDir tmp;
  auto f = fx::write_nyud(tmp.path() / "NYUDv2", false, H, W, 2, 1);
  std::filesystem::remove(f.root / "normals" / (f.val[0] + ".npy"));  // not needed for semseg + depth
  auto d = make_real_dataset("nyudv2", "target", opts(f, {{"classes", Value(std::string("nyud_pascal"))}}),
                             {"depth", "semseg"});
  auto tasks = d->tasks();
  REQUIRE(tasks.size() == 2);
  CHECK(tasks[0].name == "depth");
  CHECK(tasks[1].class_names == std::vector<std::string>{"person", "sofa", "chair", "table"});
  auto s = d->get(0);
  CHECK(s.targets.size() == 2);
  CHECK(s.targets.at("semseg")[0][W - 1].item<int64_t>() == 2);  // chair
  CHECK(s.targets.at("semseg")[0][0].item<int64_t>() == 255);    // refrigerator is not shared with PASCAL
}

TEST_CASE("nyudv2 source augmentation: crop size, determinism, flip negates normal x, depth / scale, padding") {
  TempDir tmp;
  auto f = fx::write_nyud(tmp.path() / "NYUDv2", true, H, W, 6, 1);
  // Crop to 16 x 20 with the default random scale, flip and photometric distortion.
  auto d = make_real_dataset("nyudv2", "source",
                             opts(f, {{"crop_height", Value(std::int64_t{16})}, {"crop_width", Value(std::int64_t{20})}}), {}, 7);
  CHECK(d->size() == 6);
  CHECK(d->image_size() == std::array<std::int64_t, 2>{16, 20});
  auto a = d->get(2), b = d->get(2);
  CHECK(a.image.sizes() == at::IntArrayRef{3, 16, 20});
  CHECK(a.targets.at("depth").sizes() == at::IntArrayRef{1, 16, 20});
  CHECK(same_sample(a, b));  // per_index: deterministic per (seed, index)
  auto other_seed = make_real_dataset("nyudv2", "source",
                                      opts(f, {{"crop_height", Value(std::int64_t{16})}, {"crop_width", Value(std::int64_t{20})}}), {}, 8);
  bool any_different = false;
  for (int i = 0; i < 6; ++i) any_different = any_different || !same_sample(d->get(i), other_seed->get(i));
  CHECK(any_different);

  // per_access: a new augmentation on the next load of the same index
  auto pa = make_real_dataset("nyudv2", "source",
                              opts(f, {{"crop_height", Value(std::int64_t{16})}, {"crop_width", Value(std::int64_t{20})},
                                       {"augment_draws", Value(std::string("per_access"))}}), {}, 7);
  bool changed = false;
  auto first = pa->get(1);
  for (int i = 0; i < 4 && !changed; ++i) changed = !same_sample(first, pa->get(1));
  CHECK(changed);

  // Flip only (no scale, full-size crop, no photometric): either identity or mirror with normal x negated.
  auto flip_only = [&](std::uint64_t seed) {
    return make_real_dataset("nyudv2", "source",
                             opts(f, {{"crop_height", Value(std::int64_t{H})}, {"crop_width", Value(std::int64_t{W})},
                                      {"scale_min", Value(1.0)}, {"scale_max", Value(1.0)},
                                      {"photometric", Value(false)}}), {}, seed);
  };
  auto plain = make_real_dataset("nyudv2", "target", opts(f, {{"split", Value(std::string("train"))}}));
  int flipped = 0, kept = 0;
  for (std::uint64_t seed = 0; seed < 6; ++seed) {
    auto ds = flip_only(seed);
    for (int i = 0; i < 6; ++i) {
      auto s = ds->get(i), p = plain->get(i);
      if (s.image.equal(p.image)) {
        ++kept;
        CHECK(s.targets.at("normals").equal(p.targets.at("normals")));
      } else {
        ++flipped;
        CHECK(s.image.equal(p.image.flip({2})));
        auto n = p.targets.at("normals").flip({2});
        CHECK(s.targets.at("normals")[0].equal(n[0].neg()));
        CHECK(s.targets.at("normals")[2].equal(n[2]));
        CHECK(s.targets.at("semseg").equal(p.targets.at("semseg").flip({1})));
      }
    }
  }
  CHECK(flipped > 0);
  CHECK(kept > 0);

  // Scale x2 (then crop back to the native size): depth values are divided by 2.
  auto zoom = make_real_dataset("nyudv2", "source",
                                opts(f, {{"crop_height", Value(std::int64_t{H})}, {"crop_width", Value(std::int64_t{W})},
                                         {"scale_min", Value(2.0)}, {"scale_max", Value(2.0)}, {"photometric", Value(false)},
                                         {"flip", Value(false)}}));
  auto z = zoom->get(0);
  auto depth = z.targets.at("depth"), mask = z.masks.at("depth");
  auto valid = depth.masked_select(mask);
  CHECK(valid.max().item<float>() <= fx::nyud_depth(H - 1, W - 1, 0) / 2 + 1e-4);
  CHECK(valid.min().item<float>() >= fx::nyud_depth(0, 1, 0) / 2 - 1e-4);

  // Scale x0.5 into a 24 x 32 crop: the bottom/right is padding (image 0, labels 255, masks false).
  auto shrink = make_real_dataset("nyudv2", "source",
                                  opts(f, {{"crop_height", Value(std::int64_t{H})}, {"crop_width", Value(std::int64_t{W})},
                                           {"scale_min", Value(0.5)}, {"scale_max", Value(0.5)}, {"photometric", Value(false)},
                                           {"flip", Value(false)}}));
  auto p = shrink->get(0);
  CHECK(p.image.sizes() == at::IntArrayRef{3, H, W});
  CHECK(p.image.index({at::indexing::Slice(), at::indexing::Slice(H / 2, H)}).abs().max().item<float>() == 0.0f);
  CHECK((p.targets.at("semseg").index({at::indexing::Slice(H / 2, H)}) == 255).all().item<bool>());
  for (auto t : {"depth", "normals", "edge"})
    CHECK(p.masks.at(t).index({0, at::indexing::Slice(), at::indexing::Slice(W / 2, W)}).any().item<bool>() == false);
  CHECK(p.targets.at("semseg")[0][0].item<int64_t>() == 23);  // native classes, top-left kept
}

TEST_CASE("nyudv2 balanced crop: retries make crops with two or more classes likelier") {
  TempDir tmp;
  auto f = fx::write_nyud(tmp.path() / "NYUDv2", true, H, W, 12, 1);
  auto count_balanced = [&](double ratio) {
    auto d = make_real_dataset("nyudv2", "source",
                               opts(f, {{"crop_height", Value(std::int64_t{8})}, {"crop_width", Value(std::int64_t{8})},
                                        {"scale_min", Value(1.0)}, {"scale_max", Value(1.0)}, {"photometric", Value(false)},
                                        {"cat_max_ratio", Value(ratio)}}), {"semseg"});
    int balanced = 0;
    for (int i = 0; i < d->size(); ++i) {
      auto seg = d->get(i).targets.at("semseg");
      auto labelled = seg.masked_select(seg.ne(255));
      if (labelled.numel() == 0) continue;
      auto [values, inverse, counts] = at::_unique2(labelled, true, false, true);
      if (values.numel() > 1 && counts.max().item<double>() / labelled.numel() < 0.75) ++balanced;
    }
    return balanced;
  };
  const int with_retries = count_balanced(0.75), without = count_balanced(1.0);
  MESSAGE("balanced crops: " << with_retries << " with retries, " << without << " without");
  CHECK(with_retries > without);
}

TEST_CASE("nyudv2 test-time resize and Gaussian-noise shift") {
  TempDir tmp;
  auto f = fx::write_nyud(tmp.path() / "NYUDv2", true, H, W, 1, 2);
  auto d = make_real_dataset("nyudv2", "target", opts(f, {{"height", Value(std::int64_t{12})}, {"width", Value(std::int64_t{16})}}));
  CHECK(d->image_size() == std::array<std::int64_t, 2>{12, 16});
  auto s = d->get(0);
  CHECK(s.image.sizes() == at::IntArrayRef{3, 12, 16});
  for (auto& [name, t] : s.targets) CHECK(t.size(-1) == 16);
  auto labels = std::get<0>(at::_unique(s.targets.at("semseg")));
  for (int i = 0; i < labels.numel(); ++i) {  // nearest: only labels that exist in the source
    auto v = labels[i].item<int64_t>();
    CHECK((v == 23 || v == 4 || v == 39 || v == 255));
  }

  auto clean = make_real_dataset("nyudv2", "target", opts(f));
  auto noisy = make_real_dataset("nyudv2", "target", opts(f, {{"noise_alpha", Value(0.2)}}));
  auto c = clean->get(1).image, n = noisy->get(1).image, n2 = noisy->get(1).image;
  CHECK(n.equal(n2));  // same noise for the same image
  const double sigma = c.std(false).item<double>();
  const double shift = (n - c).std(false).item<double>();
  CHECK(shift == doctest::Approx(0.2 * sigma).epsilon(0.08));
  CHECK((n - c).mean().item<double>() == doctest::Approx(0.0).epsilon(0.02 * sigma + 0.01));
}

TEST_CASE("nyudv2 get() is thread-safe and deterministic") {
  TempDir tmp;
  auto f = fx::write_nyud(tmp.path() / "NYUDv2", false, H, W, 8, 1);
  auto d = make_real_dataset("nyudv2", "source",
                             opts(f, {{"crop_height", Value(std::int64_t{16})}, {"crop_width", Value(std::int64_t{16})}}), {}, 3);
  std::vector<Sample> serial;
  for (int i = 0; i < d->size(); ++i) serial.push_back(d->get(i));
  std::vector<std::vector<Sample>> parallel(4, std::vector<Sample>(static_cast<std::size_t>(d->size())));
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int r = 0; r < 3; ++r)
        for (int i = 0; i < d->size(); ++i) parallel[t][static_cast<std::size_t>((i + t) % d->size())] = d->get((i + t) % d->size());
    });
  for (auto& th : threads) th.join();
  for (int t = 0; t < 4; ++t)
    for (int i = 0; i < d->size(); ++i) CHECK(same_sample(serial[static_cast<std::size_t>(i)], parallel[t][static_cast<std::size_t>(i)]));
}

TEST_CASE("nyudv2 bad input: each case is a DataError naming the file and what was expected") {
  TempDir tmp;
  auto f = fx::write_nyud(tmp.path() / "NYUDv2", false, H, W, 4, 1);
  auto make = [&](std::map<std::string, Value> extra = {}) {
    extra.emplace("split", Value(std::string("train")));
    return make_real_dataset("nyudv2", "target", opts(f, extra));
  };

  SUBCASE("missing root") {
    auto msg = data_error_of([&] { make_real_dataset("nyudv2", "target", {{"root", Value((tmp.path() / "nope").string())}}); });
    CHECK(contains(msg, "nope"));
    CHECK(contains(msg, "root"));
  }
  SUBCASE("missing split file") {
    std::filesystem::remove(f.root / "gt_sets" / "train.txt");
    auto msg = data_error_of([&] { make(); });
    CHECK(contains(msg, "train.txt"));
  }
  SUBCASE("missing modality file: fail at construction, or drop the sample with on_error = skip") {
    std::filesystem::remove(f.root / "depth" / "0002.npy");
    auto msg = data_error_of([&] { make(); });
    CHECK(contains(msg, "0002.npy"));
    auto d = make({{"on_error", Value(std::string("skip"))}});
    CHECK(d->size() == 3);
  }
  SUBCASE("truncated JPEG") {
    auto file = f.root / "images" / "0002.jpg";
    std::filesystem::resize_file(file, std::filesystem::file_size(file) / 2);
    auto d = make();
    auto msg = data_error_of([&] { d->get(1); });
    CHECK(contains(msg, "0002.jpg"));
    CHECK(contains(msg, "truncated"));
    CHECK(data_error_of([&] { d->get(0); }).empty());
  }
  SUBCASE("corrupt PNG label map") {
    auto file = f.root / "segmentation" / "0003.png";
    std::filesystem::resize_file(file, std::filesystem::file_size(file) - 20);
    auto msg = data_error_of([&] { make()->get(2); });
    CHECK(contains(msg, "0003.png"));
    CHECK(contains(msg, "PNG"));
  }
  SUBCASE("label outside the expected range") {
    cv::Mat seg(H, W, CV_8UC1, cv::Scalar(3));
    seg.at<std::uint8_t>(2, 5) = 41;
    fx::write_png(f.root / "segmentation" / "0001.png", seg);
    auto msg = data_error_of([&] { make()->get(0); });
    CHECK(contains(msg, "0001.png"));
    CHECK(contains(msg, "label 41"));
    CHECK(contains(msg, "0..40"));
  }
  SUBCASE("label map with the wrong channel count") {
    fx::write_png(f.root / "segmentation" / "0001.png", cv::Mat(H, W, CV_8UC3, cv::Scalar(1, 2, 3)));
    auto msg = data_error_of([&] { make()->get(0); });
    CHECK(contains(msg, "0001.png"));
    CHECK(contains(msg, "single-channel"));
  }
  SUBCASE("mismatched sizes between modalities") {
    fx::write_npy(f.root / "depth" / "0004.npy", cv::Mat(H - 4, W, CV_32FC1, cv::Scalar(1.0)));
    auto msg = data_error_of([&] { make()->get(3); });
    CHECK(contains(msg, "0004.npy"));
    CHECK(contains(msg, "20x32"));
    CHECK(contains(msg, "same size"));
  }
  SUBCASE("negative or non-finite depth") {
    cv::Mat depth(H, W, CV_32FC1, cv::Scalar(1.0));
    depth.at<float>(3, 3) = -2.0f;
    fx::write_npy(f.root / "depth" / "0001.npy", depth);
    auto msg = data_error_of([&] { make()->get(0); });
    CHECK(contains(msg, "0001.npy"));
    CHECK(contains(msg, "outside the expected range"));
  }
  SUBCASE("truncated and malformed .npy") {
    auto file = f.root / "normals" / "0002.npy";
    std::filesystem::resize_file(file, std::filesystem::file_size(file) - 100);
    auto msg = data_error_of([&] { make()->get(1); });
    CHECK(contains(msg, "0002.npy"));
    CHECK(contains(msg, "truncated"));
    fx::write_npy(f.root / "normals" / "0003.npy", cv::Mat(H, W, CV_32FC1, cv::Scalar(0.5)));
    msg = data_error_of([&] { make()->get(2); });
    CHECK(contains(msg, "(H, W, 3)"));
  }
  SUBCASE("on_error = skip substitutes the next valid sample, deterministically") {
    auto file = f.root / "images" / "0002.jpg";
    std::filesystem::resize_file(file, std::filesystem::file_size(file) / 2);
    auto d = make({{"on_error", Value(std::string("skip"))}});
    CHECK(d->size() == 4);
    CHECK(same_sample(d->get(1), d->get(2)));
    CHECK(same_sample(d->get(1), make()->get(2)));
  }
  SUBCASE("inconsistent options are ConfigErrors") {
    CHECK_THROWS_AS(make({{"height", Value(std::int64_t{12})}}), ConfigError);
    CHECK_THROWS_AS(make({{"classes", Value(std::string("pascal_taskonomy"))}}), ConfigError);
  }
}
