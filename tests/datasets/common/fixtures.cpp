#include "fixtures.hpp"

#include <png.h>

#include <cstdio>
#include <fstream>
#include <stdexcept>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "s4t_data/mat_io.hpp"
#include "s4t_data/npy.hpp"

namespace s4t::test::fixtures {

void write_lines(const fs::path& file, const std::vector<std::string>& lines) {
  fs::create_directories(file.parent_path());
  std::ofstream out(file);
  for (auto& l : lines) out << l << "\n";
}

void write_png(const fs::path& file, const cv::Mat& m) {
  fs::create_directories(file.parent_path());
  cv::Mat out;  // not `out = m`: cvtColor into a header sharing m's buffer would convert m in place
  if (m.channels() == 3) cv::cvtColor(m, out, cv::COLOR_RGB2BGR);
  else out = m;
  if (!cv::imwrite(file.string(), out)) throw std::runtime_error("cannot write " + file.string());
}

void write_jpeg(const fs::path& file, const cv::Mat& rgb, int quality) {
  fs::create_directories(file.parent_path());
  cv::Mat bgr;
  cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
  if (!cv::imwrite(file.string(), bgr, {cv::IMWRITE_JPEG_QUALITY, quality}))
    throw std::runtime_error("cannot write " + file.string());
}

void write_png_palette(const fs::path& file, const cv::Mat& indices) {
  fs::create_directories(file.parent_path());
  FILE* fp = std::fopen(file.string().c_str(), "wb");
  if (!fp) throw std::runtime_error("cannot write " + file.string());
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png_create_info_struct(png);
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    std::fclose(fp);
    throw std::runtime_error("libpng failed writing " + file.string());
  }
  png_init_io(png, fp);
  png_set_IHDR(png, info, static_cast<png_uint_32>(indices.cols), static_cast<png_uint_32>(indices.rows), 8,
               PNG_COLOR_TYPE_PALETTE, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_color palette[256];
  for (int i = 0; i < 256; ++i) {  // the PASCAL VOC colour map
    int r = 0, g = 0, b = 0, c = i;
    for (int j = 0; j < 8; ++j) {
      r |= ((c >> 0) & 1) << (7 - j);
      g |= ((c >> 1) & 1) << (7 - j);
      b |= ((c >> 2) & 1) << (7 - j);
      c >>= 3;
    }
    palette[i] = {static_cast<png_byte>(r), static_cast<png_byte>(g), static_cast<png_byte>(b)};
  }
  png_set_PLTE(png, info, palette, 256);
  png_write_info(png, info);
  for (int y = 0; y < indices.rows; ++y) png_write_row(png, const_cast<png_bytep>(indices.ptr<png_byte>(y)));
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  std::fclose(fp);
}

void write_npy(const fs::path& file, const cv::Mat& m) {
  fs::create_directories(file.parent_path());
  cv::Mat c = m.isContinuous() ? m : m.clone();
  std::vector<std::int64_t> shape{c.rows, c.cols};
  if (c.channels() > 1) shape.push_back(c.channels());
  s4t::data::write_npy(file, "<f4", shape, c.data);
}

void write_mat(const fs::path& file, const std::string& variable, const cv::Mat& m) {
  fs::create_directories(file.parent_path());
  s4t::data::write_mat_matrix(file, variable, m);
}

cv::Mat image(int h, int w, int k, int noise) {
  cv::Mat m(h, w, CV_8UC3);
  cv::RNG rng(static_cast<std::uint64_t>(1234 + k));
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      int v[3] = {w > 1 ? x * 255 / (w - 1) : 0, h > 1 ? y * 255 / (h - 1) : 0, (40 * k) % 256};
      for (int c = 0; c < 3; ++c) {
        if (noise) v[c] += rng.uniform(-noise, noise + 1);
        m.at<cv::Vec3b>(y, x)[c] = cv::saturate_cast<std::uint8_t>(v[c]);
      }
    }
  return m;
}

// ---- NYUD ----------------------------------------------------------------------------------------

int nyud_seg(int y, int x, int h, int w) {
  if (y == h - 1 && x == w - 1) return 40;
  if (x < w / 2) return 24;
  if (y < h / 2) return 5;
  return 0;
}
float nyud_depth(int y, int x, int k) { return x == 0 ? 0.f : 1.f + 0.1f * x + 0.01f * y + static_cast<float>(k); }
cv::Vec3f nyud_normal(int y, int x, int w) {
  if (y == 0) return {0.f, 0.f, 0.f};
  return {x < w / 2 ? 0.6f : -0.6f, 0.f, 0.8f};
}
float nyud_edge(int x, int w) { return x == w / 2 ? 1.f : 0.f; }

fs::path NyudFixture::image(const std::string& id) const {
  auto jpg = root / "images" / (id + ".jpg");
  return fs::exists(jpg) ? jpg : root / "images" / (id + ".png");
}

NyudFixture write_nyud(const fs::path& root, bool atrc, int h, int w, int n_train, int n_val, int noise) {
  NyudFixture f;
  f.root = root;
  for (int i = 0; i < n_train + n_val; ++i) {
    char id[16];
    std::snprintf(id, sizeof(id), "%04d", i + 1);
    (i < n_train ? f.train : f.val).push_back(id);
    const int k = i;
    cv::Mat img = image(h, w, k, noise);
    if (atrc) write_png(root / "images" / (std::string(id) + ".png"), img);
    else write_jpeg(root / "images" / (std::string(id) + ".jpg"), img);
    cv::Mat seg(h, w, CV_8UC1), depth(h, w, CV_32FC1), normals(h, w, CV_32FC3), edge(h, w, CV_32FC1);
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) {
        seg.at<std::uint8_t>(y, x) = static_cast<std::uint8_t>(nyud_seg(y, x, h, w));
        depth.at<float>(y, x) = nyud_depth(y, x, k);
        normals.at<cv::Vec3f>(y, x) = nyud_normal(y, x, w);
        edge.at<float>(y, x) = nyud_edge(x, w);
      }
    write_png(root / "segmentation" / (std::string(id) + ".png"), seg);
    write_npy(root / "depth" / (std::string(id) + ".npy"), depth);
    if (atrc) {
      cv::Mat n8, e8;
      normals.convertTo(n8, CV_8UC3, 127.5, 127.5);
      edge.convertTo(e8, CV_8UC1, 255.0);
      write_png(root / "normals" / (std::string(id) + ".png"), n8);
      write_png(root / "edge" / (std::string(id) + ".png"), e8);
    } else {
      write_npy(root / "normals" / (std::string(id) + ".npy"), normals);
      write_npy(root / "edge" / (std::string(id) + ".npy"), edge);
    }
  }
  write_lines(root / "gt_sets" / "train.txt", f.train);
  write_lines(root / "gt_sets" / "val.txt", f.val);
  return f;
}

// ---- PASCAL --------------------------------------------------------------------------------------

cv::Size pascal_size(int k) { return k % 2 == 0 ? cv::Size(30, 20) : cv::Size(18, 26); }

int pascal_seg(int y, int x, int h, int w) {
  if (y == 0 && x == 0) return 255;
  if (x < w / 2) return 9;
  if (y < h / 2) return 20;
  return 15;
}

PascalFixture write_pascal(const fs::path& root, int n_train, int n_val, cv::Size size, int noise) {
  PascalFixture f;
  f.root = root;
  for (int k = 0; k < n_train + n_val; ++k) {
    char id[32];
    std::snprintf(id, sizeof(id), "2008_%06d", k + 1);
    (k < n_train ? f.train : f.val).push_back(id);
    const cv::Size s = size.area() > 0 ? size : pascal_size(k);
    const int h = s.height, w = s.width;
    write_jpeg(root / "JPEGImages" / (std::string(id) + ".jpg"), image(h, w, k, noise));
    cv::Mat labels(h, w, CV_16UC1), seg(h, w, CV_8UC1);
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) {
        labels.at<std::uint16_t>(y, x) = x < w / 2 ? 72 : 360;
        seg.at<std::uint8_t>(y, x) = static_cast<std::uint8_t>(pascal_seg(y, x, h, w));
      }
    write_mat(root / "pascal-context" / "trainval" / (std::string(id) + ".mat"), "LabelMap", labels);
    if (k == 1) write_png(root / "semseg" / "pascal-context" / (std::string(id) + ".png"), seg);
    else write_png_palette(root / "semseg" / "VOC12" / (std::string(id) + ".png"), seg);
    write_png(root / "normals_distill" / (std::string(id) + ".png"), cv::Mat(h, w, CV_8UC3, cv::Scalar(200, 60, 150)));
  }
  write_lines(root / "ImageSets" / "Context" / "train.txt", f.train);
  write_lines(root / "ImageSets" / "Context" / "val.txt", f.val);
  return f;
}

// ---- Taskonomy -----------------------------------------------------------------------------------

int taskonomy_seg(int y, int x, int s) {
  if (y == 0 && x == 0) return 0;
  if (y == 0 && x == 1) return 1;
  if (x < s / 2) return 14;
  if (y < s / 2) return 3;
  return 2;
}

fs::path taskonomy_file(const fs::path& root, const std::string& domain, const std::string& building, int view) {
  return root / domain / "taskonomy" / building /
         ("point_" + std::to_string(view) + "_view_" + std::to_string(view % 3) + "_domain_" + domain + ".png");
}

TaskonomyFixture write_taskonomy(const fs::path& root, int views, int s, int noise) {
  TaskonomyFixture f;
  f.root = root;
  f.size = s;
  write_lines(root / "splits_taskonomy" / "train_val_test_tiny.csv",
              {"id,train,val,test", "alpha,1,0,0", "beta,1,0,0", "gamma,0,1,0", "delta,0,0,1", "woodbine,1,0,0",
               "notdownloaded,1,0,0", "otherbuilding,0,0,0"});
  cv::Mat seg(s, s, CV_8UC1), depth(s, s, CV_16UC1, cv::Scalar(511)), edge(s, s, CV_16UC1, cv::Scalar(0));
  for (int y = 0; y < s; ++y)
    for (int x = 0; x < s; ++x) {
      seg.at<std::uint8_t>(y, x) = static_cast<std::uint8_t>(taskonomy_seg(y, x, s));
      if (x == s - 1) depth.at<std::uint16_t>(y, x) = 65535;
    }
  edge.at<std::uint16_t>(s / 2, s / 2) = 40960;
  const cv::Mat normal(s, s, CV_8UC3, cv::Scalar(200, 100, 55));
  int k = 0;
  for (const std::string b : {"alpha", "beta", "gamma", "delta", "woodbine"}) {
    const int n = b == "delta" ? 10 : views;
    for (int v = 0; v < n; ++v, ++k) {
      write_png(taskonomy_file(root, "rgb", b, v), image(s, s, k, noise));
      write_png(taskonomy_file(root, "segment_semantic", b, v), seg);
      write_png(taskonomy_file(root, "depth_zbuffer", b, v), depth);
      write_png(taskonomy_file(root, "normal", b, v), normal);
      write_png(taskonomy_file(root, "edge_occlusion", b, v), edge);
    }
  }
  return f;
}

}  // namespace s4t::test::fixtures
