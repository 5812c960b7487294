#pragma once
// The images of several target domains shuffled into one stream ([ttt] stream = "mixed"): sample i is
// sample local(i) of domain domain_of(i), in an order fixed by the seed, so each image's domain is
// known when the per-domain results are scored. The domains must share the image size (a batch mixes them).
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "s4t/dataset.hpp"

namespace s4t::host {

class MixedDomains final : public Dataset {
 public:
  /// Every sample of every domain once, shuffled by `seed`; `names` label the domains in describe().
  MixedDomains(std::vector<std::shared_ptr<Dataset>> domains, std::vector<std::string> names, std::uint64_t seed);

  std::int64_t size() const override { return static_cast<std::int64_t>(order_.size()); }
  Sample get(std::int64_t index) const override;
  std::vector<TaskSpec> tasks() const override { return domains_.front()->tasks(); }
  std::array<std::int64_t, 2> image_size() const override { return domains_.front()->image_size(); }
  std::string describe() const override;
  /// Index into the domains of sample `index`.
  std::size_t domain_of(std::int64_t index) const;

 private:
  struct Origin {
    std::uint32_t domain;
    std::int64_t index;
  };
  std::vector<std::shared_ptr<Dataset>> domains_;
  std::vector<std::string> names_;
  std::vector<Origin> order_;
};

}  // namespace s4t::host
