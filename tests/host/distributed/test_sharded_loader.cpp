// Sharded loading (the distributed sampler): disjoint shards that cover each epoch, seeded by epoch.
#include <ATen/ATen.h>
#include "s4t_testkit/doctest.hpp"

#include <set>

#include "engine/data_loader.hpp"
#include "s4t/error.hpp"

using namespace s4t;
using namespace s4t::host;

namespace {
class IndexDataset final : public Dataset {
 public:
  explicit IndexDataset(std::int64_t n) : n_(n) {}
  std::int64_t size() const override { return n_; }
  Sample get(std::int64_t i) const override {
    Sample s;
    s.image = at::full({3, 2, 2}, static_cast<float>(i));
    s.targets["depth"] = at::full({1, 2, 2}, static_cast<float>(i));
    s.masks["depth"] = at::ones({1, 2, 2}, at::kBool);
    return s;
  }
  std::vector<TaskSpec> tasks() const override { return {depth_task()}; }
  std::array<std::int64_t, 2> image_size() const override { return {2, 2}; }

 private:
  std::int64_t n_;
};

std::vector<std::int64_t> epoch(DataLoader& loader) {
  std::vector<std::int64_t> seen;
  Batch b;
  while (loader.next(b)) seen.insert(seen.end(), b.indices.begin(), b.indices.end());
  return seen;
}
LoaderOptions shard(std::int64_t index, std::int64_t count, bool drop_last) {
  LoaderOptions o;
  o.batch = 2;
  o.shuffle = true;
  o.seed = 7;
  o.workers = 1;
  o.drop_last = drop_last;
  o.shard_index = index;
  o.shard_count = count;
  return o;
}
}  // namespace

TEST_CASE("shards are disjoint, cover the epoch, and interleave the unsharded order") {
  auto ds = std::make_shared<IndexDataset>(11);
  DataLoader whole(ds, shard(0, 1, false));
  auto all = epoch(whole);
  std::vector<std::vector<std::int64_t>> parts;
  for (int r = 0; r < 3; ++r) {
    DataLoader l(ds, shard(r, 3, false));
    parts.push_back(epoch(l));
  }
  CHECK(parts[0].size() == 4);
  CHECK(parts[1].size() == 4);
  CHECK(parts[2].size() == 3);
  for (std::size_t i = 0; i < all.size(); ++i) CHECK(parts[i % 3][i / 3] == all[i]);
  std::set<std::int64_t> seen;
  for (auto& p : parts) seen.insert(p.begin(), p.end());
  CHECK(seen.size() == 11);
}

TEST_CASE("with drop_last every shard has the same number of batches, and the order changes by epoch") {
  auto ds = std::make_shared<IndexDataset>(11);
  DataLoader a(ds, shard(0, 2, true)), b(ds, shard(1, 2, true));
  CHECK(a.batches_per_epoch() == 2);  // 11 / 2 = 5 samples per shard, 2 full batches of 2
  CHECK(b.batches_per_epoch() == 2);
  auto a0 = epoch(a), b0 = epoch(b);
  for (auto i : a0) CHECK(std::find(b0.begin(), b0.end(), i) == b0.end());
  a.restart();
  auto a1 = epoch(a);
  CHECK(a1 != a0);
  DataLoader again(ds, shard(0, 2, true));
  again.seek(1, 0);
  CHECK(epoch(again) == a1);  // resuming at epoch 1 gives the same shard order
}

TEST_CASE("bad shard settings are errors") {
  auto ds = std::make_shared<IndexDataset>(3);
  CHECK_THROWS_AS(DataLoader(ds, shard(2, 2, false)), Error);
  CHECK_THROWS_AS(DataLoader(ds, shard(0, 4, true)), DataError);  // 3 samples cannot feed 4 ranks
}
