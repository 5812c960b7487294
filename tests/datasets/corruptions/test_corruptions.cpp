// The corruptions: determinism, shape and range, identity at severity 0, the expected direction of each
// one's statistics with severity, the depth-aware ones' use of depth, and the pipeline leaving labels alone.
// S4T_CORRUPTION_GALLERY=<folder> also writes every corruption of the test image as PNG for a look.
#include <ATen/ATen.h>
#include <doctest/doctest.h>

#include <cmath>
#include <cstdlib>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <string>

#include "s4t/options.hpp"
#include "s4t_data/corruptions.hpp"
#include "s4t_data/sample_pipeline.hpp"

namespace sd = s4t::data;
using sd::Corruption;

namespace {

// Smooth colour gradients, a checkerboard block and a bright disc: edges, flat areas and colour.
cv::Mat test_image(int h = 64, int w = 64) {
  cv::Mat img(h, w, CV_32FC3);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const float checker = ((x / 8 + y / 8) % 2) ? 60.f : 0.f;
      img.at<cv::Vec3f>(y, x) = cv::Vec3f(60.f + 120.f * x / w + checker * (y < h / 2), 70.f + 100.f * y / h,
                                          150.f - 60.f * x / w + checker * (y >= h / 2));
    }
  cv::circle(img, cv::Point(w * 3 / 4, h * 3 / 4), h / 8, cv::Scalar(230, 200, 60), -1);
  return img;
}

// Depth growing from 1 m at the bottom row to 10 m at the top (a floor seen from above).
cv::Mat ramp_depth(int h = 64, int w = 64) {
  cv::Mat d(h, w, CV_32F);
  for (int y = 0; y < h; ++y) d.row(y).setTo(10.0f - 9.0f * y / (h - 1));
  return d;
}

std::vector<Corruption> all_corruptions() {
  std::vector<Corruption> out;
  for (const auto& [name, c] : sd::corruption_choices())
    if (c != Corruption::None) out.push_back(c);
  return out;
}

cv::Mat run(Corruption c, int severity, std::uint64_t seed = 7, const cv::Mat& img = test_image()) {
  return sd::corrupt(img, c, severity, seed, sd::needs_depth(c) ? ramp_depth(img.rows, img.cols) : cv::Mat());
}

double distance(const cv::Mat& a, const cv::Mat& b) {
  return cv::norm(a, b, cv::NORM_L1) / static_cast<double>(a.total() * 3);
}
double channel_mean(const cv::Mat& a) {
  const cv::Scalar m = cv::mean(a);
  return (m[0] + m[1] + m[2]) / 3.0;
}
double stddev(const cv::Mat& a) {
  cv::Scalar m, s;
  cv::meanStdDev(a.reshape(1), m, s);
  return s[0];
}
// High-frequency energy: mean |Laplacian| of the grey image.
double sharpness(const cv::Mat& a, cv::Rect roi = {}) {
  cv::Mat g, l;
  cv::cvtColor(a, g, cv::COLOR_RGB2GRAY);
  cv::Laplacian(g, l, CV_32F);
  if (roi.area() > 0) l = l(roi);
  return cv::mean(cv::abs(l))[0];
}
// Fraction of pixels equal to their right neighbour (pixelate's blocks).
double blockiness(const cv::Mat& a) {
  int same = 0;
  for (int y = 0; y < a.rows; ++y)
    for (int x = 0; x + 1 < a.cols; ++x) same += a.at<cv::Vec3f>(y, x) == a.at<cv::Vec3f>(y, x + 1);
  return static_cast<double>(same) / (a.rows * (a.cols - 1));
}
// Correlation of the grey images (structure left of the clean image).
double correlation(const cv::Mat& a, const cv::Mat& b) {
  cv::Mat ga, gb, r;
  cv::cvtColor(a, ga, cv::COLOR_RGB2GRAY);
  cv::cvtColor(b, gb, cv::COLOR_RGB2GRAY);
  cv::matchTemplate(ga, gb, r, cv::TM_CCOEFF_NORMED);
  return r.at<float>(0, 0);
}
double saturation(const cv::Mat& a) {
  cv::Mat hsv;
  cv::Mat unit = a / 255.0;
  cv::cvtColor(unit, hsv, cv::COLOR_RGB2HSV);
  return cv::mean(hsv)[1];
}

}  // namespace

TEST_CASE("every corruption is deterministic, keeps the shape and stays in [0, 255]") {
  const cv::Mat img = test_image();
  for (Corruption c : all_corruptions())
    for (int s = 1; s <= 5; ++s) {
      CAPTURE(sd::corruption_name(c));
      CAPTURE(s);
      const cv::Mat a = run(c, s), b = run(c, s);
      REQUIRE(a.type() == CV_32FC3);
      REQUIRE(a.size() == img.size());
      CHECK(cv::norm(a, b, cv::NORM_INF) == 0.0);
      double lo, hi;
      cv::minMaxLoc(a.reshape(1), &lo, &hi);
      CHECK(lo >= 0.0);
      CHECK(hi <= 255.0);
      CHECK(cv::checkRange(a));
      CHECK(distance(a, img) > 0.0);
    }
}

TEST_CASE("the random corruptions draw from the seed; the seed mixes index, corruption and severity") {
  for (Corruption c : {Corruption::GaussianNoise, Corruption::ShotNoise, Corruption::ImpulseNoise,
                       Corruption::SpeckleNoise, Corruption::GlassBlur, Corruption::MotionBlur, Corruption::Snow,
                       Corruption::Frost, Corruption::Fog, Corruption::Elastic, Corruption::Spatter}) {
    CAPTURE(sd::corruption_name(c));
    CHECK(cv::norm(run(c, 3, 1), run(c, 3, 2), cv::NORM_INF) > 0.0);
  }
  CHECK(sd::corruption_seed(0, 1, Corruption::Fog, 5) != sd::corruption_seed(0, 2, Corruption::Fog, 5));
  CHECK(sd::corruption_seed(0, 1, Corruption::Fog, 5) != sd::corruption_seed(0, 1, Corruption::Snow, 5));
  CHECK(sd::corruption_seed(0, 1, Corruption::Fog, 5) != sd::corruption_seed(0, 1, Corruption::Fog, 4));
  CHECK(sd::corruption_seed(0, 1, Corruption::Fog, 5) != sd::corruption_seed(1, 1, Corruption::Fog, 5));
}

TEST_CASE("severity 0 and corruption none are the identity; other severities are refused") {
  const cv::Mat img = test_image();
  for (Corruption c : all_corruptions()) CHECK(cv::norm(run(c, 0), img, cv::NORM_INF) == 0.0);
  CHECK(cv::norm(sd::corrupt(img, Corruption::None, 5, 1), img, cv::NORM_INF) == 0.0);
  cv::Mat u8;
  img.convertTo(u8, CV_8UC3);
  const cv::Mat back = sd::corrupt(u8, Corruption::None, 5, 1);
  CHECK(back.type() == CV_32FC3);
  cv::Mat u8f;
  u8.convertTo(u8f, CV_32FC3);
  CHECK(cv::norm(back, u8f, cv::NORM_INF) == 0.0);
  CHECK_THROWS_AS(sd::corrupt(img, Corruption::Fog, 6, 1), std::invalid_argument);
  CHECK_THROWS_AS(sd::corrupt(img, Corruption::Fog, -1, 1), std::invalid_argument);
}

TEST_CASE("each corruption moves the image further from the clean one as the severity grows") {
  const cv::Mat img = test_image();
  // Frost trades image for texture (1.0 + 0.4 frost at 1, 0.6 + 0.75 at 5), so it is judged by the
  // structure left; pixelate by its blocks (its error on this axis-aligned image is not monotone).
  for (Corruption c : all_corruptions()) {
    CAPTURE(sd::corruption_name(c));
    if (c == Corruption::Frost)
      CHECK(correlation(run(c, 5), img) < correlation(run(c, 1), img));
    else if (c == Corruption::Pixelate)
      CHECK(blockiness(run(c, 5)) > blockiness(run(c, 1)));
    else
      CHECK(distance(run(c, 5), img) > distance(run(c, 1), img));
  }
  // Noise grows at every step (a fixed seed draws the same variates at each severity).
  for (Corruption c :
       {Corruption::GaussianNoise, Corruption::ShotNoise, Corruption::ImpulseNoise, Corruption::SpeckleNoise}) {
    CAPTURE(sd::corruption_name(c));
    for (int s = 1; s < 5; ++s) CHECK(distance(run(c, s + 1), img) > distance(run(c, s), img));
  }
}

TEST_CASE("statistics move in each corruption's direction") {
  const cv::Mat img = test_image();
  // Blurs remove high frequencies.
  for (Corruption c : {Corruption::DefocusBlur, Corruption::GaussianBlur, Corruption::ZoomBlur, Corruption::MotionBlur,
                       Corruption::GlassBlur}) {
    CAPTURE(sd::corruption_name(c));
    CHECK(sharpness(run(c, 1)) < sharpness(img));
    CHECK(sharpness(run(c, 5)) < sharpness(run(c, 1)));
  }
  for (int s = 1; s < 5; ++s) {
    CAPTURE(s);
    CHECK(channel_mean(run(Corruption::Brightness, s + 1)) > channel_mean(run(Corruption::Brightness, s)));
    CHECK(stddev(run(Corruption::Contrast, s + 1)) < stddev(run(Corruption::Contrast, s)));
    CHECK(stddev(run(Corruption::Fog3d, s + 1)) < stddev(run(Corruption::Fog3d, s)));
  }
  CHECK(channel_mean(run(Corruption::Brightness, 1)) > channel_mean(img));
  CHECK(stddev(run(Corruption::Fog, 5)) < stddev(img));
  // Snow and frost whiten; saturate first desaturates (severities 1, 2) then oversaturates (3..5).
  CHECK(channel_mean(run(Corruption::Snow, 5)) > channel_mean(img));
  CHECK(channel_mean(run(Corruption::Frost, 5)) > channel_mean(img) * 0.9);
  CHECK(saturation(run(Corruption::Saturate, 2)) < saturation(run(Corruption::Saturate, 1)));
  CHECK(saturation(run(Corruption::Saturate, 1)) < saturation(img));
  CHECK(saturation(run(Corruption::Saturate, 5)) > saturation(run(Corruption::Saturate, 3)));
  CHECK(saturation(run(Corruption::Saturate, 3)) > saturation(img));
  // Pixelate keeps the mean colour; jpeg's error grows as the quality drops.
  CHECK(std::abs(channel_mean(run(Corruption::Pixelate, 5)) - channel_mean(img)) < 3.0);
  CHECK(distance(run(Corruption::Jpeg, 5), img) > distance(run(Corruption::Jpeg, 2), img));
}

TEST_CASE("fog_3d follows the depth: a constant depth gives a uniform veil, far pixels get more fog") {
  const cv::Mat img = test_image();
  // Constant depth: out = t * img + (1 - t) * A with one t for all pixels, i.e. an exact affine map.
  const cv::Mat flat(img.size(), CV_32F, cv::Scalar(4.0f));
  const cv::Mat out = sd::corrupt(img, Corruption::Fog3d, 3, 1, flat);
  const cv::Vec3f a0 = img.at<cv::Vec3f>(0, 0), o0 = out.at<cv::Vec3f>(0, 0);
  const cv::Vec3f a1 = img.at<cv::Vec3f>(40, 60), o1 = out.at<cv::Vec3f>(40, 60);
  const double t = (o1[0] - o0[0]) / (a1[0] - a0[0]), b = o0[0] - t * a0[0];
  CHECK(t > 0.0);
  CHECK(t < 1.0);
  double worst = 0.0;
  for (int y = 0; y < img.rows; ++y)
    for (int x = 0; x < img.cols; ++x)
      for (int c = 0; c < 3; ++c)
        worst = std::max(worst, std::abs(out.at<cv::Vec3f>(y, x)[c] - (t * img.at<cv::Vec3f>(y, x)[c] + b)));
  CHECK(worst < 1e-2);
  // Ramp depth (top rows far): the top row is closer to the airlight than the bottom row.
  const cv::Mat ramp = run(Corruption::Fog3d, 3);
  const cv::Mat grey(img.size(), CV_32FC3, cv::Scalar::all(0.8 * 255));
  const cv::Rect top(0, 0, img.cols, 4), bottom(0, img.rows - 4, img.cols, 4);
  CHECK(distance(ramp(top), grey(top)) < 0.5 * distance(img(top), grey(top)));
  CHECK(distance(ramp(bottom), img(bottom)) < distance(ramp(top), img(top)));
  // Invalid depth counts as the farthest.
  cv::Mat holes = ramp_depth();
  holes.row(32).setTo(0.0f);
  const cv::Mat with_holes = sd::corrupt(img, Corruption::Fog3d, 3, 1, holes);
  CHECK(distance(with_holes.row(32), grey.row(32)) < distance(ramp.row(32), grey.row(32)));
}

TEST_CASE("near and far focus blur the part of the scene away from the focal plane") {
  const cv::Mat img = test_image();
  const cv::Rect far_rows(0, 0, img.cols, 4), near_rows(0, img.rows - 4, img.cols, 4);  // depth 9.4-10 m / 1-1.6 m
  const cv::Mat near_focus = run(Corruption::NearFocus, 5), far_focus = run(Corruption::FarFocus, 5);
  CHECK(sharpness(near_focus, near_rows) > 0.6 * sharpness(img, near_rows));
  CHECK(sharpness(near_focus, far_rows) < 0.5 * sharpness(img, far_rows));
  CHECK(sharpness(far_focus, far_rows) > 0.6 * sharpness(img, far_rows));
  CHECK(sharpness(far_focus, near_rows) < 0.5 * sharpness(img, near_rows));
  CHECK(sharpness(run(Corruption::NearFocus, 5), far_rows) < sharpness(run(Corruption::NearFocus, 1), far_rows));
  // A flat scene at one depth is all in focus.
  const cv::Mat flat(img.size(), CV_32F, cv::Scalar(3.0f));
  CHECK(cv::norm(sd::corrupt(img, Corruption::FarFocus, 5, 1, flat), img, cv::NORM_INF) < 1e-3);
  CHECK_THROWS_AS(sd::corrupt(img, Corruption::NearFocus, 5, 1), std::invalid_argument);
}

TEST_CASE("the pipeline corrupts the image only, per (seed, index), before normalisation") {
  sd::RawSample raw;
  raw.name = "test";
  raw.image = test_image();
  sd::Target seg;
  seg.kind = sd::TargetKind::Labels;
  seg.value = cv::Mat(64, 64, CV_32SC1, cv::Scalar(2));
  raw.targets["semseg"] = seg;
  sd::Target depth;
  depth.value = ramp_depth();
  raw.targets["depth"] = depth;
  auto clone = [](const sd::RawSample& r) {
    sd::RawSample c = r;
    c.image = r.image.clone();
    for (auto& [k, t] : c.targets) t.value = t.value.clone();
    return c;
  };
  sd::PipelineOptions o;
  o.normalization = sd::Normalization::Unit;
  const s4t::Sample clean = sd::SamplePipeline(o).run(clone(raw), 0, 0);
  o.corruption = Corruption::GaussianNoise;
  o.severity = 5;
  const sd::SamplePipeline p(o);
  const s4t::Sample a = p.run(clone(raw), 3, 0), b = p.run(clone(raw), 3, 0), c = p.run(clone(raw), 4, 0);
  CHECK(at::equal(a.image, b.image));
  CHECK_FALSE(at::equal(a.image, c.image));
  CHECK_FALSE(at::equal(a.image, clean.image));
  CHECK(a.image.min().item<float>() >= 0.0f);  // corrupted in [0, 255], then divided by 255
  CHECK(a.image.max().item<float>() <= 1.0f);
  for (const auto& [name, t] : clean.targets) CHECK(at::equal(a.targets.at(name), t));
  const cv::Mat direct =
      sd::corrupt(test_image(), Corruption::GaussianNoise, 5, sd::corruption_seed(0, 3, Corruption::GaussianNoise, 5));
  CHECK(std::abs(a.image[0][10][20].item<float>() - direct.at<cv::Vec3f>(10, 20)[0] / 255.0f) < 1e-5f);
  // Depth-aware corruptions read the depth target and refuse samples without one.
  o.corruption = Corruption::Fog3d;
  CHECK_FALSE(at::equal(sd::SamplePipeline(o).run(clone(raw), 0, 0).image, clean.image));
  raw.targets.erase("depth");
  CHECK_THROWS(sd::SamplePipeline(o).run(clone(raw), 0, 0));
}

TEST_CASE("options: corruption defaults to none, severity to 5, the names are imagecorruptions'") {
  const auto settings = sd::corruption_binding().read(s4t::Options::defaults(sd::corruption_binding().schema()));
  CHECK(settings.corruption == Corruption::None);
  CHECK(settings.severity == 5);
  for (const char* name : sd::kStandardCorruptions) {
    bool found = false;
    for (const auto& [n, c] : sd::corruption_choices()) found = found || n == name;
    CHECK_MESSAGE(found, name);
  }
  CHECK(sd::corruption_choices().size() == 23);
}

TEST_CASE("gallery (S4T_CORRUPTION_GALLERY)") {
  const char* dir = std::getenv("S4T_CORRUPTION_GALLERY");
  if (!dir) return;
  // One row per corruption: clean, severities 1..5.
  const cv::Mat img = test_image(128, 128);
  const auto all = all_corruptions();
  cv::Mat sheet(static_cast<int>(all.size()) * 128, 6 * 128, CV_32FC3);
  for (size_t i = 0; i < all.size(); ++i)
    for (int s = 0; s <= 5; ++s)
      sd::corrupt(img, all[i], s, 1, sd::needs_depth(all[i]) ? ramp_depth(128, 128) : cv::Mat())
          .copyTo(sheet(cv::Rect(s * 128, static_cast<int>(i) * 128, 128, 128)));
  cv::Mat u8, bgr;
  sheet.convertTo(u8, CV_8UC3);
  cv::cvtColor(u8, bgr, cv::COLOR_RGB2BGR);
  cv::imwrite(std::string(dir) + "/corruptions.png", bgr);
}
