#pragma once
// A contiguous range of another dataset's samples, as a Dataset of its own: the labelled validation
// split of [ttt] select = "validation" and the evaluated images after it are two such ranges of the
// target set, so one can never see the other's images.
#include <memory>
#include <string>

#include "s4t/dataset.hpp"

namespace s4t::host {

class DatasetSubset final : public Dataset {
 public:
  /// Samples [first, first + count) of `base`; `what` names the range in describe() ("validation split").
  DatasetSubset(std::shared_ptr<Dataset> base, std::int64_t first, std::int64_t count, std::string what);

  std::int64_t size() const override { return count_; }
  Sample get(std::int64_t index) const override;
  std::vector<TaskSpec> tasks() const override { return base_->tasks(); }
  std::array<std::int64_t, 2> image_size() const override { return base_->image_size(); }
  std::string describe() const override;
  /// Index in the base dataset of sample 0.
  std::int64_t first() const { return first_; }

 private:
  std::shared_ptr<Dataset> base_;
  std::int64_t first_, count_;
  std::string what_;
};

}  // namespace s4t::host
