// The `taskonomy` dataset: Taskonomy in the Omnidata-downloader layout used by the S4T loader
// (docs/datasets.md#taskonomy): <root>/<domain>/taskonomy/<building>/point_<P>_view_<V>_domain_<domain>.png for the
// domains rgb, segment_semantic, depth_zbuffer, normal and edge_occlusion, with a split CSV of
// (building, is_train, is_val, is_test).
#include <algorithm>
#include <cstdio>
#include <cmath>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <opencv2/imgproc.hpp>

#include "s4t/error.hpp"
#include "s4t/log.hpp"
#include "s4t/plugin.hpp"
#include "s4t_data/class_maps.hpp"
#include "s4t_data/dataset_options.hpp"
#include "s4t_data/image_io.hpp"
#include "s4t_data/real_dataset.hpp"

namespace {

namespace fs = std::filesystem;
using namespace s4t::data;

// Domain folder of each task (docs/datasets.md: semseg <-> segment_semantic, depth <-> depth_zbuffer,
// normals <-> normal, edge <-> edge_occlusion).
const std::vector<std::pair<std::string, std::string>>& task_domains() {
  static const std::vector<std::pair<std::string, std::string>> d = {
      {"semseg", "segment_semantic"}, {"depth", "depth_zbuffer"}, {"normals", "normal"}, {"edge", "edge_occlusion"}};
  return d;
}

CommonDefaults defaults() {
  CommonDefaults d;
  d.root = "data/taskonomy";
  d.splits = {"train", "val", "test", "trainval"};
  d.source_split = "trainval";
  d.target_split = "test";
  d.class_choices = class_choices(DatasetKind::Taskonomy);
  d.crop_height = 0;  // = height x width: the S4T loader resizes 512 -> 256 and "crops" 256, i.e. no crop
  d.crop_width = 0;
  d.height = 256;
  d.width = 256;
  d.resize_mode = "resize";
  d.scale_min = 1.0;  // no random scaling and no photometric distortion for Taskonomy in S4T
  d.scale_max = 1.0;
  d.photometric = false;
  d.normalize = "minus_one_one";
  return d;
}

struct Settings {
  CommonSettings common;
  std::string split_file;
  double test_fraction = 0.1;
  std::vector<std::string> exclude_buildings;
  bool bilinear_labels = false;  ///< label_resize = "bilinear"
  bool mask_invalid_depth = false;
  double edge_blur_sigma = 4.0;
};

const s4t::Binding<Settings>& binding() {
  using S = Settings;
  static const auto b =
      s4t::Binding<S>()
          .group(&S::common, common_binding(defaults(), "taskonomy"))
          .text("split_file", &S::split_file, "splits_taskonomy/train_val_test_tiny.csv",
                "split CSV (building, is_train, is_val, is_test); relative paths resolve against root")
          .real("test_fraction", &S::test_fraction, 0.1,
                "split = test keeps the first floor(f * n) sorted views of each test building (the S4T test subset)",
                0.0, 1.0)
          .texts("exclude_buildings", &S::exclude_buildings, {"woodbine", "wiconisco"},
                 "buildings never used (the S4T loader skips these two: incomplete downloads)")
          .choice("label_resize", &S::bilinear_labels, "nearest", {{"nearest", false}, {"bilinear", true}},
                  "segment_semantic resizing: nearest, or bilinear (the S4T loader's quirk)")
          .flag("mask_invalid_depth", &S::mask_invalid_depth, false,
                "mark depth_zbuffer = 65535 (no hit) invalid; S4T keeps every pixel valid")
          .real("edge_blur_sigma", &S::edge_blur_sigma, 4.0,
                "Gaussian blur of the occlusion edges, in output pixels (0 = none)", 0.0, 64.0);
  return b;
}

bool flag(const std::string& v) { return v == "1" || v == "True" || v == "true" || v == "1.0"; }

std::vector<std::string> split_csv_line(const std::string& line) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : line) {
    if (c == ',') {
      out.push_back(cur);
      cur.clear();
    } else if (c != '"' && c != '\r') {
      cur.push_back(c);
    }
  }
  out.push_back(cur);
  for (auto& f : out) {
    const auto b = f.find_first_not_of(" \t");
    const auto e = f.find_last_not_of(" \t");
    f = b == std::string::npos ? std::string() : f.substr(b, e - b + 1);
  }
  return out;
}

// "point_12_view_3_domain_rgb.png" -> "point_12_view_3": the key shared by every domain's file.
std::string view_key(const std::string& file_name) {
  const auto p = file_name.rfind("_domain_");
  if (p != std::string::npos) return file_name.substr(0, p);
  return fs::path(file_name).stem().string();
}

struct Entry {
  std::string building;
  std::map<std::string, fs::path> files;  // domain -> file
};

class TaskonomyDataset final : public RealDataset {
 public:
  TaskonomyDataset(const s4t::DatasetContext& ctx, const Settings& s)
      : RealDataset("taskonomy", common_options(ctx, s.common, defaults(), "taskonomy")),
        mapping_(make_label_mapping(DatasetKind::Taskonomy, common().classes)),
        bilinear_labels_(s.bilinear_labels),
        mask_far_depth_(s.mask_invalid_depth),
        blur_sigma_(s.edge_blur_sigma),
        test_fraction_(s.test_fraction) {
    auto depth = s4t::depth_task();
    depth.unit = "log";  // log(1 + d) / log(2^16)
    auto normals = s4t::normals_task();
    auto edge = s4t::edge_task();
    // Taskonomy's occlusion edges are a continuous, blurred map in about [-1, 1]: regressed with L1 and
    // evaluated on the raw output (docs/datasets.md#taskonomy).
    edge.loss = s4t::LossKind::L1;
    edge.activation = s4t::Activation::None;
    // S4T weighs Taskonomy's source losses by learned uncertainty, not fixed weights: every fixed weight
    // here is 1 (override with [tasks] loss_weights).
    depth.loss_weight = normals.loss_weight = edge.loss_weight = 1.0;
    select_tasks({s4t::semseg_task(mapping_.class_names), depth, normals, edge});

    const fs::path& root = common().root;
    require_directory(root, "Taskonomy root");
    domains_ = {"rgb"};
    for (auto& [task, domain] : task_domains())
      if (wants(task)) domains_.push_back(domain);
    const fs::path split_file = resolve_path(root, s.split_file);
    auto buildings = read_buildings(split_file, s.exclude_buildings);

    // Scan each building: files of all domains, paired by (point, view) in sorted order.
    std::vector<Entry> entries;
    std::vector<std::string> missing;
    std::size_t not_downloaded = 0;
    for (auto& b : buildings) {
      std::map<std::string, std::vector<std::string>> names;  // domain -> sorted file names
      std::vector<std::string> absent;
      for (auto& d : domains_) {
        const fs::path dir = root / d / "taskonomy" / b;
        std::error_code ec;
        if (!fs::is_directory(dir, ec)) {
          absent.push_back(dir.string());
          continue;
        }
        auto& list = names[d];
        for (auto& e : fs::directory_iterator(dir, ec))
          if (e.path().extension() == ".png") list.push_back(e.path().filename().string());
        std::sort(list.begin(), list.end());
      }
      if (absent.size() == domains_.size()) {  // not downloaded at all: a subset of the split's buildings
        ++not_downloaded;
        continue;
      }
      if (!absent.empty()) {
        if (!common().skip_bad)
          throw s4t::DataError("taskonomy: folder not found: " + absent.front() + " (building '" + b +
                               "' exists for other domains; every domain needs its folder)");
        s4t::log::warn("taskonomy: skipping building '{}': missing {}", b, absent.front());
        continue;
      }
      const auto& rgb = names["rgb"];
      std::vector<Entry> building_entries;
      for (auto& file : rgb) {
        Entry e;
        e.building = b;
        e.files["rgb"] = root / "rgb" / "taskonomy" / b / file;
        const std::string key = view_key(file);
        std::string lacking;
        for (auto& d : domains_) {
          if (d == "rgb") continue;
          const std::string expected = key + "_domain_" + d + ".png";
          const auto& list = names[d];
          if (!std::binary_search(list.begin(), list.end(), expected)) {
            lacking = (root / d / "taskonomy" / b / expected).string();
            break;
          }
          e.files[d] = root / d / "taskonomy" / b / expected;
        }
        if (!lacking.empty()) {
          missing.push_back(lacking);
          continue;
        }
        building_entries.push_back(std::move(e));
      }
      // Sorted-order pairing (the S4T loader's rule) only works when every domain holds the same views.
      for (auto& d : domains_)
        if (names[d].size() != rgb.size() && missing.empty() && !common().skip_bad)
          throw s4t::DataError("taskonomy: building '" + b + "': " + std::to_string(names[d].size()) + " files in " +
                               (root / d / "taskonomy" / b).string() + " but " + std::to_string(rgb.size()) +
                               " rgb files; every domain must hold the same (point, view) files");
      if (common().split == "test" && test_fraction_ < 1.0) {
        const auto n = building_entries.size();
        const auto keep = std::max<std::size_t>(n ? 1 : 0, static_cast<std::size_t>(std::floor(test_fraction_ * n)));
        building_entries.resize(keep);
      }
      for (auto& e : building_entries) entries.push_back(std::move(e));
    }
    if (!missing.empty()) {
      if (!common().skip_bad)
        throw s4t::DataError("taskonomy: file not found: " + missing.front() + " (" + std::to_string(missing.size()) +
                             " views lack a file of some domain; on_error = \"skip\" drops them)");
      s4t::log::warn("taskonomy: skipping {} views that lack a file of some domain (first: {})", missing.size(),
                     missing.front());
    }
    if (not_downloaded > 0)
      s4t::log::warn("taskonomy: {} of {} buildings of split '{}' in {} are not under {} (not downloaded?)",
                     not_downloaded, buildings.size(), common().split, split_file.string(), root.string());
    if (common().max_samples > 0 && static_cast<std::int64_t>(entries.size()) > common().max_samples)
      entries.resize(static_cast<std::size_t>(common().max_samples));
    if (entries.empty())
      throw s4t::DataError("taskonomy: no views found for split '" + common().split + "' (" +
                           std::to_string(buildings.size()) + " buildings listed in " + split_file.string() +
                           ") under " + root.string() + "/<domain>/taskonomy/<building>/");
    entries_ = std::move(entries);
    set_count(entries_.size());
    if (common().pipeline.height > 0) {
      set_native_size({common().pipeline.height, common().pipeline.width});
    } else {
      const cv::Size s = probe_image_size(entries_.front().files.at("rgb"));
      set_native_size({s.height, s.width});
    }
    const auto used = buildings.size() - not_downloaded;
    char fraction[64] = "";
    if (common().split == "test" && test_fraction_ < 1.0)
      std::snprintf(fraction, sizeof(fraction), ", first %g%% of each building's views", 100.0 * test_fraction_);
    set_summary("at " + root.string() + " (" + std::to_string(used) + (used == 1 ? " building" : " buildings") + fraction + ")");
  }

 protected:
  std::string sample_name(std::int64_t index) const override {
    const auto& e = entries_[static_cast<std::size_t>(index)];
    return e.building + "/" + view_key(e.files.at("rgb").filename().string());
  }

  RawSample load(std::int64_t index) const override {
    const Entry& e = entries_[static_cast<std::size_t>(index)];
    RawSample s;
    s.name = sample_name(index);
    const fs::path& img_file = e.files.at("rgb");
    cv::Mat rgb = read_rgb_image(img_file, "Taskonomy rgb");
    const cv::Size out = common().pipeline.height > 0 ? cv::Size(common().pipeline.width, common().pipeline.height)
                                                      : rgb.size();
    // The S4T loader resizes every domain to 256 x 256 (bilinear) first and encodes afterwards.
    s.image = resized(rgb, out, cv::INTER_LINEAR);

    if (wants("semseg")) {
      const fs::path& f = e.files.at("segment_semantic");
      cv::Mat raw = read_png_raw(f, "Taskonomy segment_semantic (8-bit labels 0..17)", {1, 8});
      require_size(raw, rgb, f, "segment_semantic", img_file);
      Target t;
      t.kind = TargetKind::Labels;
      cv::Mat mapped = map_labels(raw, mapping_, f);  // validates every raw value
      if (!bilinear_labels_) {
        t.value = resized(mapped, out, cv::INTER_NEAREST);
      } else {
        // S4T quirk: the label image itself is resized bilinearly (PIL rounds to 8 bits), then mapped;
        // in-between values that are no class of the label space become 255.
        cv::Mat r = resized(raw, out, cv::INTER_LINEAR);
        t.value = cv::Mat(r.rows, r.cols, CV_32SC1);
        for (int y = 0; y < r.rows; ++y)
          for (int x = 0; x < r.cols; ++x) {
            const std::int32_t m = mapping_.map(r.at<std::uint8_t>(y, x));
            t.value.at<std::int32_t>(y, x) = m < 0 ? 255 : m;
          }
      }
      s.targets["semseg"] = t;
    }
    if (wants("depth")) {
      const fs::path& f = e.files.at("depth_zbuffer");
      cv::Mat raw = read_png_raw(f, "Taskonomy depth_zbuffer (16-bit, 1/512 m)", {1, 16});
      require_size(raw, rgb, f, "depth_zbuffer", img_file);
      cv::Mat d;
      raw.convertTo(d, CV_32F);
      d = resized(d, out, cv::INTER_LINEAR);
      Target t;
      if (mask_far_depth_) t.mask = resized(raw < 65535, out, cv::INTER_NEAREST);  // 65535: no hit / sky
      cv::log(d + 1.0, t.value);
      t.value /= std::log(65536.0);
      s.targets["depth"] = t;
    }
    if (wants("normals")) {
      const fs::path& f = e.files.at("normal");
      cv::Mat raw = read_png_raw(f, "Taskonomy normal (8-bit RGB, 127-centred)", {3, 8});
      require_size(raw, rgb, f, "normal", img_file);
      Target t;
      cv::Mat n;
      raw.convertTo(n, CV_32FC3, -2.0 / 255.0, 1.0);  // (255 - v) mapped from [0, 255] to [-1, 1]
      t.value = resized(n, out, cv::INTER_LINEAR);
      t.negate_x_on_flip = true;
      t.interpolation = cv::INTER_LINEAR;
      s.targets["normals"] = t;
    }
    if (wants("edge")) {
      const fs::path& f = e.files.at("edge_occlusion");
      cv::Mat raw = read_png_raw(f, "Taskonomy edge_occlusion (16-bit)", {1, 16});
      require_size(raw, rgb, f, "edge_occlusion", img_file);
      cv::Mat v;
      raw.convertTo(v, CV_32F);
      v = resized(v, out, cv::INTER_LINEAR);
      // [0, 0.00625 * 2^16] -> [-1, 1] without clipping, then a Gaussian blur (sigma 4 px, radius 4 sigma,
      // mirrored border: scipy.ndimage.gaussian_filter's defaults).
      v = v * (2.0 / (0.00625 * 65536.0)) - 1.0;
      Target t;
      if (blur_sigma_ > 0) {
        const int radius = static_cast<int>(4.0 * blur_sigma_ + 0.5);
        cv::GaussianBlur(v, t.value, cv::Size(2 * radius + 1, 2 * radius + 1), blur_sigma_, blur_sigma_, cv::BORDER_REFLECT);
      } else {
        t.value = v;
      }
      t.interpolation = cv::INTER_LINEAR;
      s.targets["edge"] = t;
    }
    for (auto& [name, t] : s.targets)
      if (name != "semseg") t.interpolation = cv::INTER_LINEAR;
    return s;
  }

 private:
  // Linear resampling; when shrinking, area averaging (INTER_AREA) instead of OpenCV's 2-tap bilinear, so
  // that thin structures are averaged rather than skipped — closer to PIL's antialiased BILINEAR filter
  // that the S4T loader uses (identical to INTER_LINEAR for the default 512 -> 256).
  static cv::Mat resized(const cv::Mat& m, cv::Size size, int interpolation) {
    if (m.size() == size) return m;
    if (interpolation == cv::INTER_LINEAR && size.width <= m.cols && size.height <= m.rows) interpolation = cv::INTER_AREA;
    cv::Mat r;
    cv::resize(m, r, size, 0, 0, interpolation);
    return r;
  }

  std::vector<std::string> read_buildings(const fs::path& split_file, const std::vector<std::string>& exclude) const {
    auto lines = read_lines(split_file, "Taskonomy split CSV");
    std::vector<std::string> out;
    std::set<std::string> excluded(exclude.begin(), exclude.end());
    const std::string& split = common().split;
    for (std::size_t i = 0; i < lines.size(); ++i) {
      auto f = split_csv_line(lines[i]);
      const bool is_header = i == 0 && (f.size() < 2 || (f[1] != "0" && f[1] != "1" && !flag(f[1]) && f[1] != "False" &&
                                                         f[1] != "false"));
      if (is_header) continue;
      if (f.size() < 4)
        fail(split_file, "line " + std::to_string(i + 1) + ": expected 4 columns (building, is_train, is_val, is_test), found " +
                             std::to_string(f.size()));
      if (f[0].empty() || excluded.count(f[0])) continue;
      const bool train = flag(f[1]), val = flag(f[2]), test = flag(f[3]);
      const bool in = split == "train" ? train : split == "val" ? val : split == "test" ? test : (train || val);
      if (in) out.push_back(f[0]);
    }
    if (out.empty()) fail(split_file, "no building is marked for split '" + split + "'");
    return out;
  }

  LabelMapping mapping_;
  bool bilinear_labels_ = false;
  bool mask_far_depth_ = false;
  double blur_sigma_ = 4.0;
  double test_fraction_ = 0.1;
  std::vector<std::string> domains_;
  std::vector<Entry> entries_;
};

void register_taskonomy(s4t::Registrar& r) {
  s4t::ComponentInfo info;
  info.name = "taskonomy";
  info.summary = "Taskonomy (Omnidata layout): semseg, depth (log), normals, occlusion edges";
  info.doc =
      "Reads <root>/<domain>/taskonomy/<building>/point_<P>_view_<V>_domain_<domain>.png for rgb, segment_semantic, "
      "depth_zbuffer, normal, edge_occlusion and the buildings of split_file (CSV: building, is_train, is_val, "
      "is_test; split trainval = train or val, as the S4T loader). Views are paired by sorted file order within "
      "a building and checked by their (point, view) name. Encodings (S4T): every domain resized to height x width "
      "(256) first; rgb -> [-1, 1]; depth = log(1 + d) / log(2^16); normals = (255 - v) mapped to [-1, 1]; edges = "
      "v / (0.00625 * 2^16) * 2 - 1 (no clip) then Gaussian blur sigma 4; segment_semantic resized nearest "
      "(label_resize = bilinear reproduces the S4T quirk) and mapped to the shared classes. Test subset: split = "
      "test keeps the first floor(test_fraction * n) (at least 1) sorted views of each test building (default "
      "10 %). Augmentation (source): flip only. classes = nyud_taskonomy (7) / pascal_taskonomy (6) / native (17).";
  info.schema = binding().schema();
  r.add_dataset(info, [](const s4t::DatasetContext& ctx, const s4t::Options& o) {
    return std::make_shared<TaskonomyDataset>(ctx, binding().read(o));
  });
}

}  // namespace

S4T_PLUGIN("s4t.taskonomy", "1.0.0", register_taskonomy)
