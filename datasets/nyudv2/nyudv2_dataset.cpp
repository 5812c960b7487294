// The `nyudv2` dataset: NYUD-v2 in the multi-task layouts of MTI-Net (NYUD_MT.tgz) and of ATRC (used
// by the S4T code), docs/datasets.md#nyudv2. Tasks semseg, depth, normals, edge.
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "s4t/error.hpp"
#include "s4t/plugin.hpp"
#include "s4t_data/class_maps.hpp"
#include "s4t_data/dataset_options.hpp"
#include "s4t_data/image_io.hpp"
#include "s4t_data/npy.hpp"
#include "s4t_data/real_dataset.hpp"

namespace {

namespace fs = std::filesystem;
using namespace s4t::data;

enum class Layout { Auto, MtiNet, Atrc };

CommonDefaults defaults() {
  CommonDefaults d;
  d.root = "data/NYUDv2";
  d.splits = {"train", "val"};
  d.source_split = "train";
  d.target_split = "val";
  d.class_choices = class_choices(DatasetKind::Nyud);
  d.crop_height = 448;
  d.crop_width = 576;
  d.height = 0;  // test at the native 480x640
  d.width = 0;
  d.resize_mode = "resize";
  d.scale_min = 0.5;
  d.scale_max = 2.0;
  d.photometric = true;
  d.normalize = "imagenet";
  return d;
}

struct Settings {
  CommonSettings common;
  Layout layout = Layout::Auto;
};

const s4t::Binding<Settings>& binding() {
  static const auto b =
      s4t::Binding<Settings>()
          .group(&Settings::common, common_binding(defaults(), "nyudv2"))
          .choice("layout", &Settings::layout, "auto",
                  {{"auto", Layout::Auto}, {"mtinet", Layout::MtiNet}, {"atrc", Layout::Atrc}},
                  "file layout: auto (detect from images/<id>.jpg vs .png), mtinet or atrc");
  return b;
}

class NyudDataset final : public RealDataset {
 public:
  NyudDataset(const s4t::DatasetContext& ctx, const Settings& s)
      : RealDataset("nyudv2", common_options(ctx, s.common, defaults(), "nyudv2")),
        mapping_(make_label_mapping(DatasetKind::Nyud, common().classes)),
        layout_(s.layout) {
    auto semseg = s4t::semseg_task(mapping_.class_names);
    select_tasks({semseg, s4t::depth_task(), s4t::normals_task(), s4t::edge_task()});
    const fs::path& root = common().root;
    require_directory(root, "NYUD-v2 root");
    const fs::path split_file = root / "gt_sets" / (common().split + ".txt");
    ids_ = read_lines(split_file, "NYUD-v2 split file");
    if (ids_.empty()) throw s4t::DataError(split_file.string() + ": the split file lists no image ids");

    if (layout_ == Layout::Auto) {
      // auto: the first id with an image decides (MTI-Net ships JPEG images, ATRC PNG).
      bool found = false;
      for (const auto& id : ids_) {
        std::error_code ec;
        if (fs::exists(root / "images" / (id + ".jpg"), ec)) layout_ = Layout::MtiNet;
        else if (fs::exists(root / "images" / (id + ".png"), ec)) layout_ = Layout::Atrc;
        else continue;
        found = true;
        break;
      }
      if (!found)
        throw s4t::DataError("NYUD-v2 image not found: " + (root / "images" / (ids_.front() + ".jpg")).string() +
                             " (MTI-Net layout) or .png (ATRC layout); expected images/<id>.jpg or images/<id>.png "
                             "for the ids of " + split_file.string());
    }

    // Every file of every requested modality must exist (on_error decides what a missing one means).
    std::vector<std::string> missing(ids_.size());
    for (std::size_t i = 0; i < ids_.size(); ++i) {
      for (auto& f : files_of(ids_[i])) {
        std::error_code ec;
        if (!fs::exists(f, ec)) {
          missing[i] = f.string();
          break;
        }
      }
    }
    auto keep = keep_complete(missing, ids_.size());
    std::vector<std::string> kept;
    for (auto i : keep) kept.push_back(ids_[i]);
    ids_.swap(kept);
    if (common().max_samples > 0 && static_cast<std::int64_t>(ids_.size()) > common().max_samples)
      ids_.resize(static_cast<std::size_t>(common().max_samples));
    if (ids_.empty()) throw s4t::DataError("nyudv2: no usable samples in split '" + common().split + "' of " + root.string());
    set_count(ids_.size());
    const cv::Size native = probe_image_size(image_file(ids_.front()));
    set_native_size({native.height, native.width});
    set_summary(std::string(layout_ == Layout::MtiNet ? "(MTI-Net layout)" : "(ATRC layout)") + " at " + root.string());
  }

 protected:
  std::string sample_name(std::int64_t index) const override { return ids_[static_cast<std::size_t>(index)]; }

  RawSample load(std::int64_t index) const override {
    const std::string& id = ids_[static_cast<std::size_t>(index)];
    const fs::path& root = common().root;
    RawSample s;
    s.name = id;
    const fs::path img_file = image_file(id);
    s.image = read_rgb_image(img_file, "NYUD-v2 image");

    if (wants("semseg")) {
      const fs::path f = root / "segmentation" / (id + ".png");
      cv::Mat raw = read_png_raw(f, "NYUD-v2 segmentation (0 = void, 1..40 = NYU-40)", {1, 0});
      require_size(raw, s.image, f, "the segmentation", img_file);
      Target t;
      t.kind = TargetKind::Labels;
      t.value = map_labels(raw, mapping_, f);
      s.targets["semseg"] = t;
    }
    if (wants("depth")) {
      const fs::path f = root / "depth" / (id + ".npy");
      cv::Mat d = read_npy_image(f, "NYUD-v2 depth (float metres, 0 = invalid)");
      if (d.channels() != 1) fail(f, "NYUD-v2 depth: expected shape (H, W) or (H, W, 1), found " + std::to_string(d.channels()) + " channels");
      require_size(d, s.image, f, "the depth map", img_file);
      require_range(d, 0.0, 1000.0, f, "NYUD-v2 depth in metres");
      Target t;
      t.value = d;
      t.mask = d > 0;  // 0 = no measurement
      t.divide_by_scale = true;
      s.targets["depth"] = t;
    }
    if (wants("normals")) {
      Target t;
      fs::path f;
      if (layout_ == Layout::MtiNet) {
        f = root / "normals" / (id + ".npy");
        t.value = read_npy_image(f, "NYUD-v2 normals (H, W, 3)");
        if (t.value.channels() != 3) fail(f, "NYUD-v2 normals: expected shape (H, W, 3), found " + std::to_string(t.value.channels()) + " channels");
        require_range(t.value, -1.01, 1.01, f, "NYUD-v2 normals (unit vectors)");
      } else {
        f = root / "normals" / (id + ".png");
        cv::Mat raw = read_png_raw(f, "NYUD-v2 normals (8-bit RGB, n = 2 v / 255 - 1)", {3, 8});
        raw.convertTo(t.value, CV_32FC3, 2.0 / 255.0, -1.0);
      }
      require_size(t.value, s.image, f, "the normal map", img_file);
      t.mask = zero_norm_mask(t.value);
      t.negate_x_on_flip = true;
      s.targets["normals"] = t;
    }
    if (wants("edge")) {
      Target t;
      fs::path f;
      if (layout_ == Layout::MtiNet) {
        f = root / "edge" / (id + ".npy");
        t.value = read_npy_image(f, "NYUD-v2 edges (H, W) in {0, 1}");
        if (t.value.channels() != 1) fail(f, "NYUD-v2 edges: expected shape (H, W), found " + std::to_string(t.value.channels()) + " channels");
        require_range(t.value, 0.0, 1.0, f, "NYUD-v2 edges");
      } else {
        f = root / "edge" / (id + ".png");
        cv::Mat raw = read_png_raw(f, "NYUD-v2 edges (8-bit, 0 / 255)", {1, 8});
        raw.convertTo(t.value, CV_32F, 1.0 / 255.0);
      }
      require_size(t.value, s.image, f, "the edge map", img_file);
      s.targets["edge"] = t;
    }
    return s;
  }

 private:
  fs::path image_file(const std::string& id) const {
    return common().root / "images" / (id + (layout_ == Layout::MtiNet ? ".jpg" : ".png"));
  }

  std::vector<fs::path> files_of(const std::string& id) const {
    const fs::path& r = common().root;
    const bool mti = layout_ == Layout::MtiNet;
    std::vector<fs::path> f{image_file(id)};
    if (wants("semseg")) f.push_back(r / "segmentation" / (id + ".png"));
    if (wants("depth")) f.push_back(r / "depth" / (id + ".npy"));
    if (wants("normals")) f.push_back(r / "normals" / (id + (mti ? ".npy" : ".png")));
    if (wants("edge")) f.push_back(r / "edge" / (id + (mti ? ".npy" : ".png")));
    return f;
  }

  // Zero-length normals mark pixels without a normal (ATRC's AddIgnoreRegions).
  static cv::Mat zero_norm_mask(const cv::Mat& n) {
    cv::Mat mask(n.rows, n.cols, CV_8UC1);
    for (int y = 0; y < n.rows; ++y) {
      const auto* p = n.ptr<cv::Vec3f>(y);
      auto* m = mask.ptr<std::uint8_t>(y);
      for (int x = 0; x < n.cols; ++x) m[x] = (p[x][0] != 0.f || p[x][1] != 0.f || p[x][2] != 0.f) ? 1 : 0;
    }
    return mask;
  }

  LabelMapping mapping_;
  Layout layout_;  ///< MtiNet or Atrc once the constructor has run
  std::vector<std::string> ids_;
};

void register_nyudv2(s4t::Registrar& r) {
  s4t::ComponentInfo info;
  info.name = "nyudv2";
  info.summary = "NYUD-v2 multi-task (MTI-Net or ATRC layout): semseg, depth, normals, edge";
  info.doc =
      "Reads <root>/gt_sets/{train,val}.txt and, per id: MTI-Net layout images/<id>.jpg, segmentation/<id>.png "
      "(0 = void -> 255, 1..40 -> 0..39), depth/<id>.npy (float metres, 0 = invalid), normals/<id>.npy (H x W x 3 "
      "unit vectors, zero = invalid), edge/<id>.npy ({0,1}); ATRC layout images/<id>.png, edge/<id>.png (0/255), "
      "normals/<id>.png (2 v / 255 - 1), same segmentation and depth. layout = auto picks by the first id's image "
      "extension. Only the modalities of the requested tasks are read. Source role: random scale 0.5-2 "
      "(depth / s), balanced 448x576 crop, flip (normal x negated), photometric distortion, ImageNet mean/std; "
      "target role: native 480x640 (or height/width). classes = nyud_taskonomy (7) / nyud_pascal (4) / native (40). "
      "Edge task: class-balanced BCE (w 50); depth: L1 on valid pixels. See docs/datasets.md.";
  info.schema = binding().schema();
  r.add_dataset(info, [](const s4t::DatasetContext& ctx, const s4t::Options& o) {
    return std::make_shared<NyudDataset>(ctx, binding().read(o));
  });
}

}  // namespace

S4T_PLUGIN("s4t.nyudv2", "1.0.0", register_nyudv2)
