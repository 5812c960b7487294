#pragma once
// Writers of tiny datasets in the exact on-disk formats the real dataset plugins read (PNG 8/16-bit and
// palette, JPEG, .npy, MATLAB .mat), and the closed-form content they write, so tests can compute the
// expected tensors. Shared by the tests and bench_datasets.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <opencv2/core/mat.hpp>

namespace s4t::test::fixtures {

namespace fs = std::filesystem;

void write_lines(const fs::path& file, const std::vector<std::string>& lines);
void write_png(const fs::path& file, const cv::Mat& m);          ///< 8/16-bit grey, or 8-bit RGB (R,G,B order)
void write_png_palette(const fs::path& file, const cv::Mat& indices);  ///< CV_8UC1 indices, VOC colour map
void write_jpeg(const fs::path& file, const cv::Mat& rgb, int quality = 95);
void write_npy(const fs::path& file, const cv::Mat& m);          ///< CV_32FC1 -> (H, W); CV_32FC3 -> (H, W, 3)
void write_mat(const fs::path& file, const std::string& variable, const cv::Mat& m);  ///< CV_16UC1 / CV_32SC1

/// Smooth test image (R = x gradient, G = y gradient, B = 40 k), plus uniform noise of +-`noise` levels.
cv::Mat image(int h, int w, int k, int noise = 0);

// ---- NYUD-v2 -------------------------------------------------------------------------------------
// Sample k (0-based over train then val ids), size h x w:
//   segmentation raw: x < w/2 -> 24 (refrigerator); else y < h/2 -> 5 (chair); else 0 (void);
//                     pixel (h-1, w-1) -> 40 (otherprop)
//   depth: x == 0 -> 0 (invalid); else 1 + 0.1 x + 0.01 y + k
//   normals: y == 0 -> (0, 0, 0) (invalid); else (x < w/2 ? 0.6 : -0.6, 0, 0.8)
//   edge: x == w/2 -> 1, else 0
int nyud_seg(int y, int x, int h, int w);
float nyud_depth(int y, int x, int k);
cv::Vec3f nyud_normal(int y, int x, int w);
float nyud_edge(int x, int w);

struct NyudFixture {
  fs::path root;
  std::vector<std::string> train, val;
  fs::path image(const std::string& id) const;
};
NyudFixture write_nyud(const fs::path& root, bool atrc, int h, int w, int n_train, int n_val, int noise = 0);

// ---- PASCAL-Context ------------------------------------------------------------------------------
// Sample k: size 20 x 30 (k even) or 26 x 18 (k odd).
//   LabelMap: x < w/2 -> 72 (chair), else 360 (sky)
//   semseg (palette PNG; sample 1 in semseg/pascal-context as grey PNG): x < w/2 -> 9 (chair);
//     else y < h/2 -> 20 (tvmonitor); else 15 (person); pixel (0, 0) -> 255
//   normals_distill: RGB (200, 60, 150) everywhere
cv::Size pascal_size(int k);
int pascal_seg(int y, int x, int h, int w);
struct PascalFixture {
  fs::path root;
  std::vector<std::string> train, val;
};
/// `size` (if non-empty) replaces pascal_size() for every sample; `noise` as in image().
PascalFixture write_pascal(const fs::path& root, int n_train, int n_val, cv::Size size = {}, int noise = 0);

// ---- Taskonomy -----------------------------------------------------------------------------------
// Buildings alpha, beta (train), gamma (val), delta (test, 10 views), woodbine (train, excluded by
// default); `views` views per building otherwise; size s x s (s = 16):
//   segment_semantic: x < s/2 -> 14 (refrigerator); else y < s/2 -> 3 (chair); else 2 (bottle);
//                     (0,0) -> 0 (uncertain), (0,1) -> 1 (background)
//   depth_zbuffer (16-bit): 511, column s-1 -> 65535
//   normal: (200, 100, 55)
//   edge_occlusion (16-bit): 0, pixel (s/2, s/2) -> 40960
int taskonomy_seg(int y, int x, int s);
struct TaskonomyFixture {
  fs::path root;
  int size = 16;
};
TaskonomyFixture write_taskonomy(const fs::path& root, int views = 3, int size = 16, int noise = 0);
fs::path taskonomy_file(const fs::path& root, const std::string& domain, const std::string& building, int view);

}  // namespace s4t::test::fixtures
