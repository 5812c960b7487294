// MetricAccumulator::all_reduce over 2 thread-"ranks": the metric of the union of both ranks' batches,
// also when a rank saw nothing (it takes part with zeros) or when no rank did (NaN stays NaN).
#include <ATen/ATen.h>

#include <cmath>
#include <memory>
#include <vector>

#include "../distributed/thread_collectives.hpp"
#include "evaluation/metrics.hpp"
#include "s4t_testkit/doctest.hpp"

using namespace s4t;

namespace {

struct Batch {
  at::Tensor prediction, target, mask;
};

// Four batches per metric kind; rank r gets batches r, r + 2 (rank 1 none at all with `starve_rank1`).
std::vector<Batch> batches_for(const std::string& kind) {
  at::manual_seed(3);
  std::vector<Batch> out;
  for (int i = 0; i < 4; ++i) {
    if (kind == "miou") {
      out.push_back({at::randn({2, 4, 3, 3}), at::randint(0, 4, {2, 3, 3}, at::kLong), at::rand({2, 1, 3, 3}).gt(0.2)});
    } else if (kind == "normals") {
      out.push_back({at::randn({2, 3, 3, 3}), at::randn({2, 3, 3, 3}), at::rand({2, 1, 3, 3}).gt(0.3)});
    } else {
      out.push_back({at::randn({2, 1, 3, 3}), at::rand({2, 1, 3, 3}) * 4, at::rand({2, 1, 3, 3}).gt(0.3)});
    }
  }
  return out;
}

std::unique_ptr<MetricAccumulator> make(const std::string& kind) {
  if (kind == "miou") return std::make_unique<MeanIoU>(4, 255);
  if (kind == "normals") return std::make_unique<AngularError>();
  return std::make_unique<Rmse>(/*aligned=*/kind == "aligned_rmse");
}

}  // namespace

TEST_CASE("metric all-reduce over 2 ranks equals one accumulator over every batch") {
  for (std::string kind : {"miou", "rmse", "aligned_rmse", "normals"}) {
    for (bool starve_rank1 : {false, true}) {
      CAPTURE(kind);
      CAPTURE(starve_rank1);
      auto data = batches_for(kind);
      auto single = make(kind);
      for (auto& b : data) single->update(b.prediction, b.target, b.mask);

      auto group = std::make_shared<test::ThreadCollectives>(2);
      std::vector<double> values(2);
      std::vector<double> local(2);
      test::run_ranks(2, [&](int r) {
        auto acc = make(kind);
        for (std::size_t i = 0; i < data.size(); ++i) {
          const int owner = starve_rank1 ? 0 : static_cast<int>(i % 2);
          if (owner == r) acc->update(data[i].prediction, data[i].target, data[i].mask);
        }
        local[r] = acc->value();
        acc->all_reduce(*group);
        values[r] = acc->value();
      });
      CHECK(group->calls() == 1);
      CHECK(values[0] == doctest::Approx(single->value()).epsilon(1e-12));
      CHECK(values[1] == doctest::Approx(single->value()).epsilon(1e-12));
      if (starve_rank1) {
        CHECK(std::isnan(local[1]));  // the empty rank still took part
      } else {
        CHECK(local[0] != doctest::Approx(single->value()).epsilon(1e-9));  // the reduction changed something
      }
    }
  }
}

TEST_CASE("metric all-reduce: when no rank saw anything the metric stays NaN; updates continue afterwards") {
  auto group = std::make_shared<test::ThreadCollectives>(2);
  std::vector<double> values(2);
  test::run_ranks(2, [&](int r) {
    MeanIoU m(3, 255);
    m.all_reduce(*group);
    values[r] = m.value();
  });
  CHECK(std::isnan(values[0]));
  CHECK(std::isnan(values[1]));

  // After a reduction the sums live on the CPU in float64 and later updates add to them.
  test::run_ranks(2, [&](int r) {
    Rmse e(false);
    e.update(at::full({1, 1, 1, 2}, 1.0 + r), at::zeros({1, 1, 1, 2}), at::Tensor());
    e.all_reduce(*group);  // Σ(p − g)² = 2·1 + 2·4 = 10 over 4 pixels
    values[r] = e.value();
  });
  CHECK(values[0] == doctest::Approx(std::sqrt(10.0 / 4.0)));
  CHECK(values[1] == doctest::Approx(std::sqrt(10.0 / 4.0)));
}
