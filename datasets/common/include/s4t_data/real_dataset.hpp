#pragma once
// Base of the real dataset plugins: sample lookup with the on_error policy, thread-safe get(), task
// selection and the shared decoding helpers.
//
// on_error = "fail": the first bad file throws DataError (naming the file and what was expected) —
//   at construction for missing files (every listed file is checked up front), in get() for files that
//   exist but cannot be decoded or hold wrong values.
// on_error = "skip": samples with missing files are dropped at construction (one warning with the count);
//   a sample that fails in get() is marked bad, counted, logged (warning with the running count) and
//   replaced by the next valid index (i+1, i+2, ... wrapping around). Which index replaces a bad one does
//   not depend on the order in which loader threads discover bad files, so results stay deterministic.
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <opencv2/core/mat.hpp>

#include "s4t/dataset.hpp"
#include "s4t_data/class_maps.hpp"
#include "s4t_data/dataset_options.hpp"
#include "s4t_data/file_io.hpp"
#include "s4t_data/sample_pipeline.hpp"

namespace s4t::data {

class RealDataset : public s4t::Dataset {
 public:
  std::int64_t size() const override { return static_cast<std::int64_t>(count_); }
  Sample get(std::int64_t index) const override;
  std::vector<TaskSpec> tasks() const override { return tasks_; }
  std::array<std::int64_t, 2> image_size() const override;
  std::string describe() const override;

  /// Samples skipped by get() so far (on_error = skip).
  std::int64_t skipped() const { return skipped_.load(); }

 protected:
  RealDataset(std::string name, CommonOptions common);

  /// Decodes sample `index` at its native resolution with the requested targets. Throws DataError.
  virtual RawSample load(std::int64_t index) const = 0;
  /// Identifier of sample `index` for messages (e.g. the image id).
  virtual std::string sample_name(std::int64_t index) const = 0;

  /// Keeps the available tasks the experiment asked for (all when it asked for none), in its order.
  void select_tasks(const std::vector<TaskSpec>& available);
  bool wants(const std::string& task) const;
  /// Call once the sample list is final (after dropping and max_samples).
  void set_count(std::size_t count);
  /// Size reported by image_size() when samples keep their native size (0 x 0 = varies).
  void set_native_size(std::array<std::int64_t, 2> size) { native_size_ = size; }
  void set_summary(std::string summary) { summary_ = std::move(summary); }

  /// Applies the on_error policy to files found missing at construction: `missing[i]` is the first
  /// missing file of sample i (empty if none). Returns the indices to keep; throws in fail mode.
  std::vector<std::size_t> keep_complete(const std::vector<std::string>& missing, std::size_t total) const;

  const CommonOptions& common() const { return common_; }
  const std::string& name() const { return name_; }

 private:
  Sample build(std::int64_t index) const;

  std::string name_;
  CommonOptions common_;
  SamplePipeline pipeline_;
  std::vector<TaskSpec> tasks_;
  std::size_t count_ = 0;
  std::array<std::int64_t, 2> native_size_{0, 0};
  std::string summary_;
  std::unique_ptr<std::atomic<std::uint8_t>[]> bad_;       // 1 = failed in get()
  std::unique_ptr<std::atomic<std::uint32_t>[]> draws_;    // loads per index (per_access augmentation)
  mutable std::atomic<std::int64_t> skipped_{0};
};

// ---- decoding helpers ----------------------------------------------------------------------------

/// Raw label image (CV_8U, CV_16U or CV_32S, one channel) -> class indices (CV_32SC1) through `mapping`.
/// A raw value the dataset cannot contain throws DataError naming the file, the value, its position and
/// the expected range.
cv::Mat map_labels(const cv::Mat& raw, const LabelMapping& mapping, const std::filesystem::path& file);

/// Throws DataError unless `m` has the image's size.
void require_size(const cv::Mat& m, const cv::Mat& image, const std::filesystem::path& file, const std::string& what,
                  const std::filesystem::path& image_file);

/// CV_32FC3 [0, 255] from an 8-bit RGB image.
cv::Mat to_float_image(const cv::Mat& rgb8);

/// Throws DataError when `m` (float) holds NaN/Inf or values outside [lo, hi].
void require_range(const cv::Mat& m, double lo, double hi, const std::filesystem::path& file, const std::string& what);

}  // namespace s4t::data
