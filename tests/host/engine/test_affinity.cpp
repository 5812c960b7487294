// Task-affinity matrices (supplement §C).
#include <ATen/ATen.h>

#include "engine/task_affinity.hpp"
#include "s4t_testkit/doctest.hpp"

using namespace s4t::host;

TEST_CASE("affinity matrices are symmetric with a unit diagonal and the gap is |A_t - A_s|") {
  at::manual_seed(0);
  AffinityAccumulator source, target;
  auto base = at::randn({6, 4, 3, 3});
  source.update({{"a", base}, {"b", base.mul(2.0)}, {"c", at::randn({6, 4, 3, 3})}});
  target.update({{"a", base}, {"b", base.neg()}, {"c", at::randn({6, 4, 3, 3})}});
  auto m = source.matrix();
  REQUIRE(m.size() == 3);
  for (size_t i = 0; i < 3; ++i) {
    CHECK(m[i][i] == doctest::Approx(1.0));
    for (size_t j = 0; j < 3; ++j) CHECK(m[i][j] == doctest::Approx(m[j][i]));
  }
  CHECK(m[0][1] == doctest::Approx(1.0));  // b = 2a: same direction
  CHECK(target.matrix()[0][1] == doctest::Approx(-1.0));
  auto report = affinity_report(source, AffinityAccumulator(), target);
  CHECK(report["gap_after"][0][1].get<double>() == doctest::Approx(2.0));
  CHECK(report.contains("mean_gap_after"));
  CHECK_FALSE(report.contains("target_before"));
}

TEST_CASE("latents of different shapes are refused") {
  AffinityAccumulator a;
  CHECK_THROWS(a.update({{"a", at::randn({2, 4, 3, 3})}, {"b", at::randn({2, 5, 3, 3})}}));
}
