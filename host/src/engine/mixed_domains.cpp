#include "engine/mixed_domains.hpp"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include "s4t/error.hpp"

namespace s4t::host {

MixedDomains::MixedDomains(std::vector<std::shared_ptr<Dataset>> domains, std::vector<std::string> names,
                           std::uint64_t seed)
    : domains_(std::move(domains)), names_(std::move(names)) {
  if (domains_.empty()) throw Error("mixed target stream: no domains");
  for (std::size_t d = 0; d < domains_.size(); ++d) {
    if (domains_[d]->image_size() != domains_.front()->image_size() || domains_[d]->image_size()[0] <= 0)
      throw ConfigError("[ttt] stream = \"mixed\" puts images of every domain into one batch, so the domains need one "
                        "fixed image size; domain '" + names_[d] + "' has " + std::to_string(domains_[d]->image_size()[0]) +
                        "x" + std::to_string(domains_[d]->image_size()[1]) + " (0 = varies), domain '" + names_.front() +
                        "' " + std::to_string(domains_.front()->image_size()[0]) + "x" +
                        std::to_string(domains_.front()->image_size()[1]));
    for (std::int64_t i = 0; i < domains_[d]->size(); ++i) order_.push_back({static_cast<std::uint32_t>(d), i});
  }
  // A permutation from LibTorch's own generator seeded here, so the order does not depend on the standard
  // library and is the same wherever the run is repeated.
  auto generator = at::detail::createCPUGenerator(seed);
  auto perm = at::randperm(static_cast<std::int64_t>(order_.size()), generator, at::TensorOptions().dtype(at::kLong));
  const auto* p = perm.data_ptr<std::int64_t>();
  std::vector<Origin> shuffled(order_.size());
  for (std::size_t i = 0; i < order_.size(); ++i) shuffled[i] = order_[static_cast<std::size_t>(p[i])];
  order_ = std::move(shuffled);
}

Sample MixedDomains::get(std::int64_t index) const {
  if (index < 0 || index >= size())
    throw DataError("mixed target stream: sample " + std::to_string(index) + " is outside [0, " + std::to_string(size()) + ")");
  const auto& o = order_[static_cast<std::size_t>(index)];
  return domains_[o.domain]->get(o.index);
}

std::size_t MixedDomains::domain_of(std::int64_t index) const { return order_.at(static_cast<std::size_t>(index)).domain; }

std::string MixedDomains::describe() const {
  std::string text = "mixed stream of " + std::to_string(size()) + " images from";
  for (std::size_t d = 0; d < domains_.size(); ++d) text += (d ? ", " : " ") + names_[d];
  return text;
}

}  // namespace s4t::host
