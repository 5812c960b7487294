#include "s4t_data/real_dataset.hpp"

#include <cmath>
#include <sstream>

#include <opencv2/core.hpp>

#include "s4t/error.hpp"
#include "s4t/log.hpp"

namespace s4t::data {

RealDataset::RealDataset(std::string name, CommonOptions common)
    : name_(std::move(name)), common_(std::move(common)), pipeline_(common_.pipeline) {
  if (common_.pipeline.augment && (common_.pipeline.crop_height <= 0 || common_.pipeline.crop_width <= 0))
    throw ConfigError(name_ + ": augmentation needs crop_height and crop_width > 0");
}

void RealDataset::select_tasks(const std::vector<TaskSpec>& available) {
  tasks_.clear();
  if (common_.requested_tasks.empty()) {
    tasks_ = available;
    return;
  }
  // Tasks this dataset lacks are left out; the host reports them with the list of what it has.
  for (auto& name : common_.requested_tasks)
    for (auto& t : available)
      if (t.name == name) tasks_.push_back(t);
}

bool RealDataset::wants(const std::string& task) const {
  for (auto& t : tasks_)
    if (t.name == task) return true;
  return false;
}

void RealDataset::set_count(std::size_t count) {
  count_ = count;
  bad_.reset(new std::atomic<std::uint8_t>[count]);
  draws_.reset(new std::atomic<std::uint32_t>[count]);
  for (std::size_t i = 0; i < count; ++i) {
    bad_[i].store(0);
    draws_[i].store(0);
  }
}

std::vector<std::size_t> RealDataset::keep_complete(const std::vector<std::string>& missing, std::size_t total) const {
  std::vector<std::size_t> keep;
  std::size_t n_missing = 0;
  std::string first;
  for (std::size_t i = 0; i < total; ++i) {
    if (missing[i].empty()) {
      keep.push_back(i);
      continue;
    }
    if (first.empty()) first = missing[i];
    ++n_missing;
  }
  if (n_missing > 0) {
    if (!common_.skip_bad)
      throw DataError(name_ + ": file not found: " + first + " (" + std::to_string(n_missing) + " of " +
                      std::to_string(total) + " samples of split '" + common_.split +
                      "' have missing files; on_error = \"skip\" drops them)");
    log::warn("{}: skipping {} of {} samples of split '{}' with missing files (first: {})", name_, n_missing, total,
              common_.split, first);
  }
  return keep;
}

std::array<std::int64_t, 2> RealDataset::image_size() const {
  auto s = pipeline_.output_size();
  if (s[0] > 0) return s;
  return native_size_;
}

std::string RealDataset::describe() const {
  std::ostringstream o;
  const auto s = image_size();
  o << name_ << " " << summary_ << ", split '" << common_.split << "', " << count_ << " samples";
  if (s[0] > 0) o << " " << s[0] << "x" << s[1];
  else o << " (native sizes)";
  o << ", tasks";
  for (auto& t : tasks_) o << " " << t.name;
  for (auto& t : tasks_)
    if (t.kind == TaskKind::Classification) o << ", classes " << common_.classes << " (" << t.channels << ")";
  if (common_.pipeline.augment) o << ", augmented";
  if (common_.pipeline.corruption != Corruption::None && common_.pipeline.severity > 0)
    o << ", " << corruption_name(common_.pipeline.corruption) << " severity " << common_.pipeline.severity;
  if (common_.pipeline.noise_alpha > 0) o << ", noise alpha " << common_.pipeline.noise_alpha;
  return o.str();
}

Sample RealDataset::build(std::int64_t index) const {
  std::uint64_t draw = 0;
  if (common_.pipeline.augment && common_.pipeline.draws == AugmentDraws::PerAccess)
    draw = draws_[static_cast<std::size_t>(index)].fetch_add(1);
  return pipeline_.run(load(index), index, draw);
}

Sample RealDataset::get(std::int64_t index) const {
  const auto n = static_cast<std::int64_t>(count_);
  if (index < 0 || index >= n)
    throw DataError(name_ + ": sample index " + std::to_string(index) + " is outside [0, " + std::to_string(n) + ")");
  if (!common_.skip_bad) return build(index);
  for (std::int64_t k = 0; k < n; ++k) {
    const std::int64_t j = (index + k) % n;
    if (bad_[static_cast<std::size_t>(j)].load()) continue;
    try {
      return build(j);
    } catch (const DataError& e) {
      // Count each bad sample once, however many threads run into it.
      if (bad_[static_cast<std::size_t>(j)].exchange(1) == 0) {
        const auto count = skipped_.fetch_add(1) + 1;
        log::warn("{}: skipping sample {} ({}): {} [{} skipped so far]", name_, j, sample_name(j), e.what(), count);
      }
    }
  }
  throw DataError(name_ + ": every sample of split '" + common_.split + "' failed to load");
}

// ---- helpers -------------------------------------------------------------------------------------

cv::Mat map_labels(const cv::Mat& raw, const LabelMapping& mapping, const std::filesystem::path& file) {
  if (raw.channels() != 1) fail(file, "expected a single-channel label map, found " + std::to_string(raw.channels()) + " channels");
  cv::Mat out(raw.rows, raw.cols, CV_32SC1);
  for (int y = 0; y < raw.rows; ++y) {
    std::int32_t* o = out.ptr<std::int32_t>(y);
    for (int x = 0; x < raw.cols; ++x) {
      std::int64_t v = 0;
      switch (raw.depth()) {
        case CV_8U: v = raw.ptr<std::uint8_t>(y)[x]; break;
        case CV_16U: v = raw.ptr<std::uint16_t>(y)[x]; break;
        case CV_32S: v = raw.ptr<std::int32_t>(y)[x]; break;
        default: fail(file, "unsupported label map depth");
      }
      const std::int32_t m = mapping.map(v);
      if (m < 0)
        fail(file, "label " + std::to_string(v) + " at row " + std::to_string(y) + ", column " + std::to_string(x) +
                       " is outside the expected range " + mapping.raw_range);
      o[x] = m;
    }
  }
  return out;
}

void require_size(const cv::Mat& m, const cv::Mat& image, const std::filesystem::path& file, const std::string& what,
                  const std::filesystem::path& image_file) {
  if (m.rows == image.rows && m.cols == image.cols) return;
  fail(file, what + " is " + std::to_string(m.rows) + "x" + std::to_string(m.cols) + " (HxW) but the image " +
                 image_file.string() + " is " + std::to_string(image.rows) + "x" + std::to_string(image.cols) +
                 "; expected the same size");
}

cv::Mat to_float_image(const cv::Mat& rgb8) {
  cv::Mat f;
  rgb8.convertTo(f, CV_32F);
  return f;
}

void require_range(const cv::Mat& m, double lo, double hi, const std::filesystem::path& file, const std::string& what) {
  // Fast vectorised check first (NaN fails it too; its upper bound is exclusive); locate the culprit only
  // when it fails.
  if (cv::checkRange(m, true, nullptr, lo, std::nextafter(hi, HUGE_VAL))) return;
  const int c = m.channels();
  for (int y = 0; y < m.rows; ++y) {
    const float* p = m.ptr<float>(y);
    for (int x = 0; x < m.cols * c; ++x) {
      const float v = p[x];
      if (!std::isfinite(v) || v < lo || v > hi) {
        std::ostringstream o;
        o << what << ": value " << v << " at row " << y << ", column " << x / c << " is outside the expected range ["
          << lo << ", " << hi << "]";
        fail(file, o.str());
      }
    }
  }
}

}  // namespace s4t::data
