// pascal_context on a tiny PASCAL_MT-layout dataset: palette label PNGs, the pascal-context fallback,
// distilled normals masked to NYU classes, edges from the .mat LabelMap, padding, bad input.
#include <fstream>

#include <ATen/ATen.h>

#include "fixtures.hpp"
#include "helpers.hpp"
#include "s4t_testkit/doctest.hpp"
#include "s4t_data/mat_io.hpp"
#include "test_support.hpp"

using namespace s4t;
using namespace s4t::test;
namespace fx = s4t::test::fixtures;

#ifdef S4T_HAVE_MATIO

TEST_CASE("pascal_context: tensors, pascal_taskonomy classes, masked normals, LabelMap edges, padding") {
  TempDir tmp;
  auto f = fx::write_pascal(tmp.path() / "PASCALContext", 2, 2);
  auto d = make_real_dataset("pascal_context", "target",
                             {{"root", Value(f.root.string())},
                              {"classes", Value(std::string("pascal_taskonomy"))},
                              {"height", Value(std::int64_t{32})},
                              {"width", Value(std::int64_t{32})}});
  CHECK(d->size() == 2);
  CHECK(d->image_size() == std::array<std::int64_t, 2>{32, 32});
  auto tasks = d->tasks();
  REQUIRE(tasks.size() == 3);
  CHECK(tasks[0].class_names == std::vector<std::string>{"table", "tv", "bottle", "sofa", "potted plant", "chair"});
  CHECK(tasks[1].name == "normals");
  CHECK(tasks[2].name == "edge");

  const cv::Size size = fx::pascal_size(2);  // first val sample: 20 x 30, padded to 32 x 32
  const int h = size.height, w = size.width;
  auto s = d->get(0);
  CHECK(s.image.sizes() == at::IntArrayRef{3, 32, 32});
  auto seg = s.targets.at("semseg");
  CHECK(seg[1][0].item<int64_t>() == 5);            // VOC 9 chair -> 5 (palette index, not colour)
  CHECK(seg[1][w - 1].item<int64_t>() == 1);        // VOC 20 tvmonitor -> tv = 1
  CHECK(seg[h - 1][w - 1].item<int64_t>() == 255);  // person: not shared with Taskonomy
  CHECK(seg[0][0].item<int64_t>() == 255);          // void
  CHECK((seg.index({at::indexing::Slice(h, 32)}) == 255).all().item<bool>());  // padding
  CHECK((seg.index({at::indexing::Slice(), at::indexing::Slice(w, 32)}) == 255).all().item<bool>());
  CHECK(s.image.index({at::indexing::Slice(), at::indexing::Slice(h, 32)}).abs().max().item<float>() == 0.0f);

  // Normals: 2 v / 255 - 1 on chair (a NYU class), invalid on sky (LabelMap 360) and in the padding.
  auto n = s.targets.at("normals");
  auto nm = s.masks.at("normals");
  CHECK(n[0][3][2].item<float>() == doctest::Approx(2.0 * 200 / 255 - 1));
  CHECK(n[1][3][2].item<float>() == doctest::Approx(2.0 * 60 / 255 - 1));
  CHECK(n[2][3][2].item<float>() == doctest::Approx(2.0 * 150 / 255 - 1));
  CHECK(nm[0][3][2].item<bool>() == true);
  CHECK(nm[0][3][w - 2].item<bool>() == false);
  CHECK(n[0][3][w - 2].item<float>() == 0.0f);
  CHECK(nm[0][h + 1][2].item<bool>() == false);

  // Edges: the 72 | 360 boundary at x = w/2 - 1 | w/2, thinned to one pixel per row.
  auto e = s.targets.at("edge");
  auto em = s.masks.at("edge");
  CHECK(em[0][h - 1][w - 1].item<bool>() == true);
  CHECK(em[0][h][0].item<bool>() == false);
  for (int y = 1; y < h - 1; ++y) {
    auto row = e[0][y].index({at::indexing::Slice(0, w)});
    CHECK(row.sum().item<float>() == 1.0f);
    const auto x = row.argmax().item<int64_t>();
    CHECK((x == w / 2 - 1 || x == w / 2));
  }
  CHECK(e[0][5][0].item<float>() == 0.0f);
}

TEST_CASE("pascal_context: pascal-context semseg fallback, native and nyud_pascal classes, normals_mask none") {
  TempDir tmp;
  auto f = fx::write_pascal(tmp.path() / "PASCALContext", 2, 1);
  auto d = make_real_dataset("pascal_context", "target",
                             {{"root", Value(f.root.string())}, {"split", Value(std::string("train"))},
                              {"classes", Value(std::string("native"))}, {"normals_mask", Value(std::string("none"))}});
  CHECK(d->tasks()[0].channels == 21);
  auto s = d->get(1);  // 26 x 18, its semseg is a grey PNG in semseg/pascal-context
  const int h = 26, w = 18;
  CHECK(s.image.sizes() == at::IntArrayRef{3, 512, 512});  // default: padded to 512 x 512
  CHECK(s.targets.at("semseg")[h - 1][w - 1].item<int64_t>() == 15);
  CHECK(s.targets.at("semseg")[1][0].item<int64_t>() == 9);
  CHECK(s.masks.at("normals")[0][3][w - 2].item<bool>() == true);  // sky kept without the NYU-class mask

  auto shared = make_real_dataset("pascal_context", "target",
                                  {{"root", Value(f.root.string())}, {"classes", Value(std::string("nyud_pascal"))}},
                                  {"semseg"});
  auto seg = shared->get(0).targets.at("semseg");
  CHECK(seg[1][0].item<int64_t>() == 2);             // chair
  CHECK(seg[19][29].item<int64_t>() == 0);           // person
  CHECK(seg[1][29].item<int64_t>() == 255);          // tv: not shared with NYUD
  CHECK(shared->tasks().size() == 1);
  // depth is not a PASCAL task: left out (the host reports it)
  auto no_depth = make_real_dataset("pascal_context", "target", {{"root", Value(f.root.string())}}, {"semseg", "depth"});
  CHECK(no_depth->tasks().size() == 1);
}

TEST_CASE("pascal_context source augmentation: samples have the crop size") {
  TempDir tmp;
  auto f = fx::write_pascal(tmp.path() / "PASCALContext", 2, 1);
  auto d = make_real_dataset("pascal_context", "source",
                             {{"root", Value(f.root.string())}, {"crop_height", Value(std::int64_t{24})},
                              {"crop_width", Value(std::int64_t{24})}});
  CHECK(d->image_size() == std::array<std::int64_t, 2>{24, 24});
  for (int i = 0; i < 2; ++i) {
    auto s = d->get(i);
    CHECK(s.image.sizes() == at::IntArrayRef{3, 24, 24});
    CHECK(s.targets.at("edge").sizes() == at::IntArrayRef{1, 24, 24});
  }
}

TEST_CASE("pascal_context bad input") {
  TempDir tmp;
  auto f = fx::write_pascal(tmp.path() / "PASCALContext", 3, 1);
  auto make = [&](std::map<std::string, Value> extra = {}) {
    extra["root"] = Value(f.root.string());
    extra.emplace("split", Value(std::string("train")));
    return make_real_dataset("pascal_context", "target", extra);
  };
  SUBCASE("missing split file") {
    std::filesystem::remove(f.root / "ImageSets" / "Context" / "train.txt");
    CHECK(contains(data_error_of([&] { make(); }), "train.txt"));
  }
  SUBCASE("missing semseg in both folders") {
    std::filesystem::remove(f.root / "semseg" / "VOC12" / (f.train[2] + ".png"));
    auto msg = data_error_of([&] { make(); });
    CHECK(contains(msg, f.train[2] + ".png"));
    CHECK(contains(msg, "pascal-context"));
    CHECK(make({{"on_error", Value(std::string("skip"))}})->size() == 2);
  }
  SUBCASE("corrupt .mat file") {
    auto file = f.root / "pascal-context" / "trainval" / (f.train[0] + ".mat");
    std::filesystem::resize_file(file, 100);
    auto msg = data_error_of([&] { make()->get(0); });
    CHECK(contains(msg, f.train[0] + ".mat"));
  }
  SUBCASE(".mat with a corrupt header version") {
    // matio reads anything but version 0x0100 / 0x0200 as a v4 file, trusting sizes made of the header text.
    auto file = f.root / "pascal-context" / "trainval" / (f.train[0] + ".mat");
    {
      std::fstream io(file, std::ios::in | std::ios::out | std::ios::binary);
      io.seekp(124);
      io.put(static_cast<char>(0x20));
      io.put(static_cast<char>(0xe6));
    }
    auto msg = data_error_of([&] { make()->get(0); });
    CHECK(contains(msg, f.train[0] + ".mat"));
    CHECK(contains(msg, "header version 0xe620"));
  }
  SUBCASE(".mat whose dimensions are not miINT32") {
    // matio then reads the name's tag from the dimension values and allocates the 1.6 GB it finds there
    // (found by CI's fuzzing; the input is the corpus entry).
    std::filesystem::copy_file(test::source_dir() / "fuzz/corpus/mat/regression_dims_not_int32_name_tag_from_dims_1.6gb.mat",
                               f.root / "pascal-context" / "trainval" / (f.train[0] + ".mat"),
                               std::filesystem::copy_options::overwrite_existing);
    auto msg = data_error_of([&] { make()->get(0); });
    CHECK(contains(msg, f.train[0] + ".mat"));
    CHECK(contains(msg, "dimensions of a variable are of type 1280; expected miINT32 (5)"));
  }
  SUBCASE(".mat without LabelMap") {
    fx::write_mat(f.root / "pascal-context" / "trainval" / (f.train[0] + ".mat"), "Other", cv::Mat(20, 30, CV_16UC1, cv::Scalar(1)));
    auto msg = data_error_of([&] { make()->get(0); });
    CHECK(contains(msg, "LabelMap"));
  }
  SUBCASE("LabelMap out of range") {
    cv::Mat labels(20, 30, CV_16UC1, cv::Scalar(72));
    labels.at<std::uint16_t>(4, 6) = 460;
    fx::write_mat(f.root / "pascal-context" / "trainval" / (f.train[0] + ".mat"), "LabelMap", labels);
    auto msg = data_error_of([&] { make()->get(0); });
    CHECK(contains(msg, "LabelMap value 460"));
    CHECK(contains(msg, "0..459"));
  }
  SUBCASE("semseg label outside 0..20 and 255") {
    cv::Mat seg(20, 30, CV_8UC1, cv::Scalar(0));
    seg.at<std::uint8_t>(1, 1) = 77;
    fx::write_png_palette(f.root / "semseg" / "VOC12" / (f.train[0] + ".png"), seg);
    auto msg = data_error_of([&] { make()->get(0); });
    CHECK(contains(msg, "label 77"));
    CHECK(contains(msg, "0..20 or 255"));
  }
  SUBCASE("mismatched sizes") {
    fx::write_png(f.root / "normals_distill" / (f.train[0] + ".png"), cv::Mat(21, 30, CV_8UC3, cv::Scalar(1, 2, 3)));
    auto msg = data_error_of([&] { make()->get(0); });
    CHECK(contains(msg, "normals_distill"));
    CHECK(contains(msg, "same size"));
  }
  SUBCASE("corrupt JPEG is skipped with on_error = skip") {
    auto file = f.root / "JPEGImages" / (f.train[1] + ".jpg");
    std::filesystem::resize_file(file, 200);
    CHECK(contains(data_error_of([&] { make()->get(1); }), f.train[1] + ".jpg"));
    auto d = make({{"on_error", Value(std::string("skip"))}});
    CHECK(same_sample(d->get(1), d->get(2)));
  }
}

#endif  // S4T_HAVE_MATIO
