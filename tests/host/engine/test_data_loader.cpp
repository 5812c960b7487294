// The parallel input pipeline: order, determinism, completeness, errors from worker threads.
#include <ATen/ATen.h>
#include "s4t_testkit/doctest.hpp"

#include <set>

#include "engine/data_loader.hpp"
#include "s4t/error.hpp"

using namespace s4t;
using namespace s4t::host;

namespace {
class CountingDataset final : public Dataset {
 public:
  explicit CountingDataset(std::int64_t n, std::int64_t broken = -1) : n_(n), broken_(broken) {}
  std::int64_t size() const override { return n_; }
  Sample get(std::int64_t i) const override {
    if (i == broken_) throw DataError("sample " + std::to_string(i) + " is corrupt");
    Sample s;
    s.image = at::full({3, 2, 2}, static_cast<float>(i));
    s.targets["depth"] = at::full({1, 2, 2}, static_cast<float>(i));
    s.masks["depth"] = at::ones({1, 2, 2}, at::kBool);
    return s;
  }
  std::vector<TaskSpec> tasks() const override { return {depth_task()}; }
  std::array<std::int64_t, 2> image_size() const override { return {2, 2}; }

 private:
  std::int64_t n_, broken_;
};

std::vector<std::int64_t> epoch_indices(DataLoader& loader) {
  std::vector<std::int64_t> seen;
  Batch b;
  while (loader.next(b)) {
    for (std::int64_t k = 0; k < b.size(); ++k) CHECK(b.images[k][0][0][0].item<float>() == doctest::Approx(b.indices[k]));
    seen.insert(seen.end(), b.indices.begin(), b.indices.end());
  }
  return seen;
}
}  // namespace

TEST_CASE("every sample once per epoch, in order without shuffling, short last batch kept") {
  auto ds = std::make_shared<CountingDataset>(10);
  for (int workers : {0, 1, 3}) {
    LoaderOptions o;
    o.batch = 4;
    o.workers = workers;
    DataLoader loader(ds, o);
    CHECK(loader.batches_per_epoch() == 3);
    auto seen = epoch_indices(loader);
    REQUIRE(seen.size() == 10);
    for (std::int64_t i = 0; i < 10; ++i) CHECK(seen[i] == i);
  }
}

TEST_CASE("shuffling is deterministic by seed and epoch; drop_last drops the short batch") {
  auto ds = std::make_shared<CountingDataset>(10);
  LoaderOptions o;
  o.batch = 4;
  o.shuffle = true;
  o.drop_last = true;
  o.seed = 7;
  DataLoader a(ds, o), b(ds, o);
  auto ea = epoch_indices(a), eb = epoch_indices(b);
  CHECK(ea.size() == 8);
  CHECK(ea == eb);
  a.restart();
  auto next_epoch = epoch_indices(a);
  CHECK(next_epoch != ea);
  std::set<std::int64_t> unique(ea.begin(), ea.end());
  CHECK(unique.size() == 8);
  // seek() resumes mid-epoch exactly where a fresh loader would be
  DataLoader c(ds, o);
  c.seek(1, 1);
  auto rest = epoch_indices(c);
  CHECK(std::vector<std::int64_t>(next_epoch.begin() + 4, next_epoch.end()) == rest);
}

TEST_CASE("an error in a worker reaches the consumer with its message") {
  auto ds = std::make_shared<CountingDataset>(8, 5);
  LoaderOptions o;
  o.batch = 2;
  o.workers = 2;
  DataLoader loader(ds, o);
  Batch b;
  CHECK(loader.next(b));
  CHECK(loader.next(b));
  CHECK_THROWS_WITH_AS(loader.next(b), doctest::Contains("sample 5 is corrupt"), DataError);
}

// A synthetic dataset's size is a number in the config: one no machine can index is refused by name
// before the loader allocates its order (it was a raw std::bad_alloc, or the OOM killer for sizes that
// overcommit lets through).
TEST_CASE("a dataset too large for this machine's memory is refused before the loader allocates its order") {
  auto huge = std::make_shared<CountingDataset>(std::int64_t{1} << 50);
  LoaderOptions o;
  o.batch = 4;
  o.max_batches = 1;
  CHECK_THROWS_WITH_AS(DataLoader(huge, o), doctest::Contains("has 1125899906842624 samples; the order of an epoch keeps an 8-byte index per sample"),
                       DataError);
  CHECK_THROWS_WITH_AS(DataLoader(huge, o), doctest::Contains("GiB of memory; lower the dataset's size"), DataError);
  DataLoader fine(std::make_shared<CountingDataset>(1000000), o);  // 8 MB of order: well within any machine
  CHECK(fine.batches_per_epoch() == 1);
}
