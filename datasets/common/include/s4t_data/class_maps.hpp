#pragma once
// Shared semantic classes of the source -> target pairs (docs/datasets.md) and each dataset's own label
// set. Source and target of a pair must declare identical class-name lists in the same order (the host
// compares them); both sides use the names defined here, so they do.
//
//   classes = "nyud_taskonomy"   7 classes: refrigerator, table, toilet, sofa, bed, sink, chair
//   classes = "pascal_taskonomy" 6 classes: table, tv, bottle, sofa, potted plant, chair
//                                (the S4T code's name list says "toilet" third, but both index lists point
//                                 at bottle; VOC has no toilet)
//   classes = "nyud_pascal"      4 classes: person, sofa, chair, table (not used in the paper's tables)
//   classes = "native"           the dataset's own label set (NYU-40; VOC 21 incl. background;
//                                Taskonomy's 17 = background + 16 COCO objects)
// Every raw label not in the chosen set becomes the ignore index 255.
#include <cstdint>
#include <string>
#include <vector>

namespace s4t::data {

enum class DatasetKind { Nyud, Pascal, Taskonomy };

/// Raw on-disk label value -> class index (or 255), with the class names.
struct LabelMapping {
  std::string classes;                   ///< the option value, e.g. "nyud_taskonomy"
  std::vector<std::string> class_names;  ///< output channel order
  std::vector<std::int32_t> lut;         ///< indexed by raw value; -1 = not a valid raw value (DataError)
  std::string raw_range;                 ///< e.g. "0..40" for messages

  /// Class index of raw value v, 255 for ignore, -1 when v is not a value this dataset may contain.
  std::int32_t map(std::int64_t v) const {
    return v >= 0 && v < static_cast<std::int64_t>(lut.size()) ? lut[static_cast<std::size_t>(v)] : -1;
  }
};

/// The `classes` values a dataset accepts ("native" first).
std::vector<std::string> class_choices(DatasetKind kind);

/// Throws ConfigError for a pair the dataset is not part of.
LabelMapping make_label_mapping(DatasetKind kind, const std::string& classes);

/// NYU-40 names (raw values 1..40; 0 = void).
const std::vector<std::string>& nyu40_names();
/// PASCAL VOC names (raw values 0..20, 0 = background; 255 = void/boundary).
const std::vector<std::string>& voc_names();
/// Taskonomy segment_semantic names of raw values 1..17 (0 = uncertain; 255 also treated as unlabelled).
const std::vector<std::string>& taskonomy_names();

/// PASCAL-Context (459-class LabelMap) ids whose class also exists in NYU-v2's full label list, plus
/// tvmonitor: where the distilled normals are kept (MTL-PyTorch's normals_valid_classes, computed from its
/// data/db_info/{nyu,context}_classes.json: 169 shared names except "unknown", + tvmonitor = 170 ids).
const std::vector<std::int32_t>& pascal_context_normals_valid_ids();

}  // namespace s4t::data
