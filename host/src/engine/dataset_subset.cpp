#include "engine/dataset_subset.hpp"

#include "s4t/error.hpp"

namespace s4t::host {

DatasetSubset::DatasetSubset(std::shared_ptr<Dataset> base, std::int64_t first, std::int64_t count, std::string what)
    : base_(std::move(base)), first_(first), count_(count), what_(std::move(what)) {
  if (!base_) throw Error("dataset subset '" + what_ + "': no dataset");
  if (first_ < 0 || count_ < 0 || first_ + count_ > base_->size())
    throw Error("dataset subset '" + what_ + "': samples [" + std::to_string(first_) + ", " +
                std::to_string(first_ + count_) + ") are outside the dataset's " + std::to_string(base_->size()));
}

Sample DatasetSubset::get(std::int64_t index) const {
  if (index < 0 || index >= count_)
    throw DataError("dataset subset '" + what_ + "': sample " + std::to_string(index) + " is outside [0, " +
                    std::to_string(count_) + ")");
  return base_->get(first_ + index);
}

std::string DatasetSubset::describe() const {
  return what_ + " (samples " + std::to_string(first_) + ".." + std::to_string(first_ + count_ - 1) + ") of " +
         base_->describe();
}

}  // namespace s4t::host
