// The shared decoding code of the real dataset plugins: .npy, PNG (palette, 16-bit, truncated), JPEG
// integrity, Guo-Hall thinning of label boundaries (checked against scikit-image), class mappings.
#include <ATen/ATen.h>

#include <cstring>
#include <fstream>

#include <opencv2/core.hpp>

#include "fixtures.hpp"
#include "helpers.hpp"
#include "s4t_data/class_maps.hpp"
#include "s4t_data/image_io.hpp"
#include "s4t_data/npy.hpp"
#include "s4t_data/thinning.hpp"
#include "s4t_testkit/doctest.hpp"
#include "test_support.hpp"

using namespace s4t;
using namespace s4t::test;
namespace fx = s4t::test::fixtures;
namespace sd = s4t::data;

TEST_CASE("npy: every supported dtype round-trips; Fortran order; errors name the file") {
  TempDir tmp;
  const std::vector<std::int64_t> shape{2, 3};
  auto check = [&](const std::string& descr, const void* data, const std::vector<double>& expect) {
    auto file = tmp.path() / ("a" + descr.substr(1) + ".npy");
    sd::write_npy(file, descr, shape, data);
    auto a = sd::read_npy(file, "test array");
    CHECK(a.shape == shape);
    REQUIRE(a.count() == 6);
    for (int i = 0; i < 6; ++i) CHECK(a.at(i) == expect[static_cast<std::size_t>(i)]);
  };
  const std::vector<double> v{0, 1, 2, 3, 250, 5};
  float f4[6];
  double f8[6];
  std::uint8_t u1[6];
  std::uint16_t u2[6];
  std::int32_t i4[6];
  std::int64_t i8[6];
  for (int i = 0; i < 6; ++i) {
    f4[i] = static_cast<float>(v[i]);
    f8[i] = v[i];
    u1[i] = static_cast<std::uint8_t>(v[i]);
    u2[i] = static_cast<std::uint16_t>(v[i]);
    i4[i] = static_cast<std::int32_t>(v[i]);
    i8[i] = static_cast<std::int64_t>(v[i]);
  }
  check("<f4", f4, v);
  check("<f8", f8, v);
  check("|u1", u1, v);
  check("<u2", u2, v);
  check("<i4", i4, v);
  check("<i8", i8, v);

  // A Fortran-order (column-major) file as numpy writes it for np.asfortranarray(a).
  {
    std::string header = "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }";
    header.append(64 - (10 + header.size() + 1) % 64, ' ');
    header.push_back('\n');
    const float colmajor[6] = {0, 3, 1, 4, 2, 5};  // C-order values 0..5
    std::ofstream out(tmp.path() / "fortran.npy", std::ios::binary);
    out.write("\x93NUMPY\x01\x00", 8);
    const char len[2] = {static_cast<char>(header.size() & 0xFF), static_cast<char>(header.size() >> 8)};
    out.write(len, 2);
    out.write(header.data(), static_cast<std::streamsize>(header.size()));
    out.write(reinterpret_cast<const char*>(colmajor), sizeof(colmajor));
  }
  auto fa = sd::read_npy(tmp.path() / "fortran.npy", "fortran");
  for (int i = 0; i < 6; ++i) CHECK(fa.at(i) == i);
  auto img = sd::npy_to_image(fa, tmp.path() / "fortran.npy", "fortran");
  CHECK(img.at<float>(1, 2) == 5.0f);

  // Errors
  {
    std::ofstream out(tmp.path() / "bad.npy", std::ios::binary);
    out << "not numpy at all";
  }
  auto msg = data_error_of([&] { sd::read_npy(tmp.path() / "bad.npy", "depth"); });
  CHECK(contains(msg, "bad.npy"));
  CHECK(contains(msg, "magic"));
  {
    std::string header = "{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }";
    header.append(64 - (10 + header.size() + 1) % 64, ' ');
    header.push_back('\n');
    std::ofstream out(tmp.path() / "be.npy", std::ios::binary);
    out.write("\x93NUMPY\x01\x00", 8);
    const char len[2] = {static_cast<char>(header.size()), 0};
    out.write(len, 2);
    out << header << "abcd";
  }
  CHECK(contains(data_error_of([&] { sd::read_npy(tmp.path() / "be.npy", "x"); }), "'>f4'"));
  CHECK(contains(data_error_of([&] { sd::read_npy(tmp.path() / "none.npy", "depth"); }), "depth not found"));
}

TEST_CASE("PNG: palette indices, 16-bit values, truncation; JPEG truncation") {
  TempDir tmp;
  cv::Mat idx(5, 7, CV_8UC1);
  for (int i = 0; i < 35; ++i) idx.data[i] = static_cast<std::uint8_t>(i * 7 % 256);
  fx::write_png_palette(tmp.path() / "p.png", idx);
  auto raw = sd::read_png_raw(tmp.path() / "p.png", "labels", {1, 8});
  CHECK(cv::countNonZero(raw != idx) == 0);  // indices, not colours
  auto rgb = sd::read_rgb_image(tmp.path() / "p.png", "image");  // as an image: colours
  CHECK(rgb.channels() == 3);
  CHECK(rgb.at<cv::Vec3b>(0, 1) == cv::Vec3b(128, 128, 128));  // index 7 -> its VOC colour
  cv::Mat d16(4, 4, CV_16UC1);
  for (int i = 0; i < 16; ++i) reinterpret_cast<std::uint16_t*>(d16.data)[i] = static_cast<std::uint16_t>(4000 * i + 7);
  fx::write_png(tmp.path() / "d.png", d16);
  auto r16 = sd::read_png_raw(tmp.path() / "d.png", "depth", {1, 16});
  CHECK(r16.depth() == CV_16U);
  CHECK(cv::countNonZero(r16 != d16) == 0);
  CHECK(contains(data_error_of([&] { sd::read_png_raw(tmp.path() / "d.png", "depth", {1, 8}); }), "16-bit grey"));
  CHECK(sd::probe_image_size(tmp.path() / "d.png") == cv::Size(4, 4));

  fx::write_jpeg(tmp.path() / "i.jpg", fx::image(40, 50, 0, 20));
  CHECK(sd::probe_image_size(tmp.path() / "i.jpg") == cv::Size(50, 40));
  CHECK(sd::read_rgb_image(tmp.path() / "i.jpg", "image").size() == cv::Size(50, 40));
  std::filesystem::resize_file(tmp.path() / "i.jpg", std::filesystem::file_size(tmp.path() / "i.jpg") - 2);  // drop EOI
  CHECK(contains(data_error_of([&] { sd::read_rgb_image(tmp.path() / "i.jpg", "image"); }), "truncated"));
  std::filesystem::resize_file(tmp.path() / "d.png", std::filesystem::file_size(tmp.path() / "d.png") - 12);  // drop IEND
  CHECK(contains(data_error_of([&] { sd::read_png_raw(tmp.path() / "d.png", "depth"); }), "truncated"));
  {
    std::ofstream out(tmp.path() / "x.png", std::ios::binary);
    out << "garbage";
  }
  CHECK(contains(data_error_of([&] { sd::read_png_raw(tmp.path() / "x.png", "labels"); }), "not a PNG"));
}

TEST_CASE("label boundaries: Laplacian != 0, then Guo-Hall thinning, identical to scikit-image") {
  // Label map and expected edges from scipy.ndimage.correlate(..., mode='mirror') (= cv2.Laplacian's
  // BORDER_REFLECT_101) and skimage.morphology.thin 0.19.
  const char* labels[] = {"00000000002222", "00000000002222", "00055555552222", "00055555550000",
                          "00055555550000", "00055559999999", "00055559999999", "00055559999999",
                          "00055559999999", "00000009999999", "00000009999999", "00000009999999"};
  const char* expect[] = {"00000000000000", "00000000000000", "00011111110000", "00100000001000",
                          "00100000010100", "00100001100000", "00100010000000", "00100010000000",
                          "00010010000000", "00001100000000", "00000010000000", "00000010000000"};
  cv::Mat l(12, 14, CV_32SC1);
  for (int y = 0; y < 12; ++y)
    for (int x = 0; x < 14; ++x) l.at<std::int32_t>(y, x) = labels[y][x] - '0';
  auto e = sd::label_boundaries(l);
  std::string got, want;
  for (int y = 0; y < 12; ++y) {
    for (int x = 0; x < 14; ++x) got.push_back(e.at<float>(y, x) > 0.5f ? '1' : '0');
    want += expect[y];
    got += "";
  }
  CHECK(got == want);
}

TEST_CASE("class mappings: both sides of a pair declare the same names; dataset choices") {
  using sd::DatasetKind;
  CHECK(sd::make_label_mapping(DatasetKind::Nyud, "nyud_taskonomy").class_names ==
        sd::make_label_mapping(DatasetKind::Taskonomy, "nyud_taskonomy").class_names);
  CHECK(sd::make_label_mapping(DatasetKind::Pascal, "pascal_taskonomy").class_names ==
        sd::make_label_mapping(DatasetKind::Taskonomy, "pascal_taskonomy").class_names);
  CHECK(sd::make_label_mapping(DatasetKind::Nyud, "nyud_pascal").class_names ==
        sd::make_label_mapping(DatasetKind::Pascal, "nyud_pascal").class_names);
  CHECK(sd::class_choices(DatasetKind::Taskonomy) == std::vector<std::string>{"native", "nyud_taskonomy", "pascal_taskonomy"});
  // NYU-40 0-based ids [23, 6, 32, 5, 3, 33, 4] <-> Taskonomy [14, 7, 8, 4, 6, 13, 3] (the paper's shared label space)
  auto n = sd::make_label_mapping(DatasetKind::Nyud, "nyud_taskonomy");
  auto t = sd::make_label_mapping(DatasetKind::Taskonomy, "nyud_taskonomy");
  const int nyu[] = {23, 6, 32, 5, 3, 33, 4}, tk[] = {14, 7, 8, 4, 6, 13, 3};
  for (int c = 0; c < 7; ++c) {
    CHECK(n.map(nyu[c] + 1) == c);
    CHECK(t.map(tk[c]) == c);
    CHECK(sd::nyu40_names()[static_cast<std::size_t>(nyu[c])].substr(0, 3) ==
          n.class_names[static_cast<std::size_t>(c)].substr(0, 3));
  }
  auto p = sd::make_label_mapping(DatasetKind::Pascal, "pascal_taskonomy");
  const int voc[] = {11, 20, 5, 18, 16, 9}, tk2[] = {7, 9, 2, 4, 5, 3};
  for (int c = 0; c < 6; ++c) {
    CHECK(p.map(voc[c]) == c);
    CHECK(sd::make_label_mapping(DatasetKind::Taskonomy, "pascal_taskonomy").map(tk2[c]) == c);
  }
  CHECK(sd::voc_names()[5] == "bottle");
  CHECK(p.map(255) == 255);
  CHECK(p.map(21) == -1);
  CHECK(sd::pascal_context_normals_valid_ids().size() == 170);
  CHECK_THROWS_AS(sd::make_label_mapping(DatasetKind::Pascal, "nyud_taskonomy"), ConfigError);
}
