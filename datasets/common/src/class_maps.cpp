#include "s4t_data/class_maps.hpp"

#include "s4t/error.hpp"

namespace s4t::data {

namespace {

struct PairSpec {
  const char* name;
  std::vector<std::string> names;
  std::vector<int> nyud_raw;       // raw PNG values (NYU-40 0-based id + 1)
  std::vector<int> pascal_raw;     // VOC ids
  std::vector<int> taskonomy_raw;  // raw segment_semantic values
};

const std::vector<PairSpec>& pairs() {
  // NYU-40 0-based ids of the shared classes (docs/datasets.md) are [23, 6, 32, 5, 3, 33, 4] (7 classes)
  // and [30, 5, 4, 6] (4 classes); the PNGs store id + 1.
  static const std::vector<PairSpec> p = {
      {"nyud_taskonomy",
       {"refrigerator", "table", "toilet", "sofa", "bed", "sink", "chair"},
       {24, 7, 33, 6, 4, 34, 5},
       {},
       {14, 7, 8, 4, 6, 13, 3}},
      {"pascal_taskonomy",
       {"table", "tv", "bottle", "sofa", "potted plant", "chair"},
       {},
       {11, 20, 5, 18, 16, 9},
       {7, 9, 2, 4, 5, 3}},
      {"nyud_pascal", {"person", "sofa", "chair", "table"}, {31, 6, 5, 7}, {15, 18, 9, 11}, {}},
  };
  return p;
}

std::string kind_name(DatasetKind k) {
  switch (k) {
    case DatasetKind::Nyud: return "nyudv2";
    case DatasetKind::Pascal: return "pascal_context";
    case DatasetKind::Taskonomy: return "taskonomy";
  }
  return "?";
}

}  // namespace

const std::vector<std::string>& nyu40_names() {
  static const std::vector<std::string> n = {
      "wall", "floor", "cabinet", "bed", "chair", "sofa", "table", "door", "window", "bookshelf",
      "picture", "counter", "blinds", "desk", "shelves", "curtain", "dresser", "pillow", "mirror", "floor mat",
      "clothes", "ceiling", "books", "refrigerator", "television", "paper", "towel", "shower curtain", "box",
      "whiteboard", "person", "night stand", "toilet", "sink", "lamp", "bathtub", "bag", "otherstructure",
      "otherfurniture", "otherprop"};
  return n;
}

const std::vector<std::string>& voc_names() {
  static const std::vector<std::string> n = {
      "background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
      "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train", "tvmonitor"};
  return n;
}

const std::vector<std::string>& taskonomy_names() {
  static const std::vector<std::string> n = {
      "background", "bottle", "chair", "couch", "potted plant", "bed", "dining table", "toilet", "tv",
      "microwave", "oven", "toaster", "sink", "refrigerator", "book", "clock", "vase"};
  return n;
}

std::vector<std::string> class_choices(DatasetKind kind) {
  std::vector<std::string> c{"native"};
  for (auto& p : pairs()) {
    const bool in = kind == DatasetKind::Nyud ? !p.nyud_raw.empty()
                    : kind == DatasetKind::Pascal ? !p.pascal_raw.empty()
                                                  : !p.taskonomy_raw.empty();
    if (in) c.push_back(p.name);
  }
  return c;
}

LabelMapping make_label_mapping(DatasetKind kind, const std::string& classes) {
  LabelMapping m;
  m.classes = classes;
  // Valid raw values and the native mapping.
  switch (kind) {
    case DatasetKind::Nyud:  // 0 = void, 1..40 = NYU-40
      m.lut.assign(41, 255);
      m.raw_range = "0..40";
      if (classes == "native") {
        for (int v = 1; v <= 40; ++v) m.lut[v] = v - 1;
        m.class_names = nyu40_names();
      }
      break;
    case DatasetKind::Pascal:  // 0..20 VOC, 255 = void
      m.lut.assign(256, -1);
      for (int v = 0; v <= 20; ++v) m.lut[v] = 255;
      m.lut[255] = 255;
      m.raw_range = "0..20 or 255";
      if (classes == "native") {
        for (int v = 0; v <= 20; ++v) m.lut[v] = v;
        m.class_names = voc_names();
      }
      break;
    case DatasetKind::Taskonomy:  // 0 = uncertain, 1 = background, 2..17 objects; 255 tolerated as unlabelled
      m.lut.assign(256, -1);
      for (int v = 0; v <= 17; ++v) m.lut[v] = 255;
      m.lut[255] = 255;
      m.raw_range = "0..17 (or 255)";
      if (classes == "native") {
        for (int v = 1; v <= 17; ++v) m.lut[v] = v - 1;
        m.class_names = taskonomy_names();
      }
      break;
  }
  if (classes == "native") return m;
  for (auto& p : pairs()) {
    if (classes != p.name) continue;
    const auto& raw = kind == DatasetKind::Nyud ? p.nyud_raw : kind == DatasetKind::Pascal ? p.pascal_raw : p.taskonomy_raw;
    if (raw.empty()) break;
    for (std::size_t i = 0; i < raw.size(); ++i) m.lut[static_cast<std::size_t>(raw[i])] = static_cast<std::int32_t>(i);
    m.class_names = p.names;
    return m;
  }
  std::string valid;
  for (auto& c : class_choices(kind)) valid += (valid.empty() ? "" : ", ") + c;
  throw ConfigError(kind_name(kind) + ": classes = \"" + classes + "\" is not a label space of this dataset; expected one of " +
                    valid);
}

const std::vector<std::int32_t>& pascal_context_normals_valid_ids() {
  static const std::vector<std::int32_t> ids = {
      3,   4,   6,   9,   10,  11,  13,  15,  17,  18,  22,  23,  29,  30,  33,  34,  36,  37,  38,  39,  41,  43,
      46,  49,  50,  51,  53,  55,  56,  59,  61,  62,  65,  66,  68,  69,  72,  73,  78,  83,  84,  85,  87,  88,
      95,  96,  101, 104, 105, 107, 111, 113, 115, 122, 124, 135, 141, 142, 143, 146, 150, 154, 157, 158, 159, 165,
      172, 174, 181, 183, 184, 191, 193, 195, 197, 199, 202, 213, 215, 216, 219, 220, 223, 225, 228, 230, 232, 233,
      238, 239, 242, 243, 246, 250, 251, 252, 255, 260, 261, 263, 269, 272, 273, 275, 281, 283, 284, 285, 286, 287,
      288, 290, 291, 292, 293, 295, 304, 307, 309, 310, 314, 315, 319, 323, 329, 330, 331, 336, 342, 345, 349, 350,
      351, 352, 355, 357, 368, 370, 371, 374, 379, 380, 383, 384, 397, 401, 403, 405, 407, 408, 411, 412, 413, 414,
      417, 419, 421, 423, 427, 429, 430, 432, 440, 441, 442, 443, 444, 446, 454, 457};
  return ids;
}

}  // namespace s4t::data
