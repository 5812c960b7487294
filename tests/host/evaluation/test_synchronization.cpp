// Synchronisation measures (supplement §B) on hand-computed cases and DTW against brute force.
#include <functional>
#include <random>

#include "s4t_testkit/doctest.hpp"
#include "evaluation/synchronization.hpp"

using namespace s4t;

TEST_CASE("step variance of peak steps") {
  // peaks at steps 1, 3, 3, 5 -> mean 3, deviations 2,0,0,2 -> sqrt(8/4)
  Curves c = {{5, 1, 0, 0, 0}, {0, 1, 5, 1, 0}, {0, 0, 9, 0, 0}, {0, 1, 2, 3, 4}};
  CHECK(step_variance(c) == doctest::Approx(std::sqrt(2.0)));
  CHECK(step_variance({{1, 2, 3}, {0, 1, 7}}) == doctest::Approx(0.0));
}

TEST_CASE("DTW: identical curves 0, shifted curve aligns, hand case") {
  CHECK(dtw_distance({1, 2, 3}, {1, 2, 3}) == doctest::Approx(0.0));
  CHECK(dtw_distance({0, 1, 2}, {0, 0, 1, 2}) == doctest::Approx(0.0));  // warping absorbs the repeat
  // a = (0, 2), b = (1, 1): DC(1,1)=1, DC(1,2)=2, DC(2,1)=2, DC(2,2)=1+min(2,2,1)=2
  CHECK(dtw_distance({0, 2}, {1, 1}) == doctest::Approx(2.0));
  CHECK(dtw({{0, 2}, {1, 1}, {0, 2}}) == doctest::Approx((2.0 + 0.0 + 2.0) / 3.0));
}

TEST_CASE("DTW equals the brute-force recursion on random trajectories") {
  std::mt19937 rng(3);
  std::uniform_real_distribution<double> u(-1, 1);
  for (int trial = 0; trial < 20; ++trial) {
    std::vector<double> a(1 + rng() % 7), b(1 + rng() % 7);
    for (auto& x : a) x = u(rng);
    for (auto& x : b) x = u(rng);
    std::function<double(size_t, size_t)> dc = [&](size_t i, size_t j) -> double {  // 1-based, plain recursion
      double cost = std::abs(a[i - 1] - b[j - 1]);
      if (i == 1 && j == 1) return cost;
      double best = 1e300;
      if (i > 1) best = std::min(best, dc(i - 1, j));
      if (j > 1) best = std::min(best, dc(i, j - 1));
      if (i > 1 && j > 1) best = std::min(best, dc(i - 1, j - 1));
      return cost + best;
    };
    CHECK(dtw_distance(a, b) == doctest::Approx(dc(a.size(), b.size())));
  }
}

TEST_CASE("cosine similarity is the mean sign agreement of step changes") {
  Curves same = {{0, 1, 2, 3}, {5, 6, 7, 8}};
  CHECK(cosine_similarity(same) == doctest::Approx(1.0));
  Curves opposite = {{0, 1, 2}, {2, 1, 0}};
  CHECK(cosine_similarity(opposite) == doctest::Approx(-1.0));
  Curves mixed = {{0, 1, 0, 0}, {0, 1, 2, 2}};  // +1*+1, -1*+1, 0*0 -> sum 0
  CHECK(cosine_similarity(mixed) == doctest::Approx(0.0));
  Curves half = {{0, 1, 2}, {0, 1, 0}};  // +1, -1 ... sum 0; with {0,1,1}: +1, 0 -> 1/2
  CHECK(cosine_similarity({{0, 1, 2}, {0, 1, 1}}) == doctest::Approx(0.5));
  CHECK(cosine_similarity({{0, 1, 2}, {0, 1, 1}}, false) == doctest::Approx(1.0));
  CHECK(cosine_similarity(half) == doctest::Approx(0.0));
}

TEST_CASE("relative-gain curves flip the sign where lower is better") {
  auto c = relative_gain_curves({{50, 2.0}, {55, 1.0}}, {50, 2.0}, {true, false});
  REQUIRE(c.size() == 2);
  CHECK(c[0][1] == doctest::Approx(10.0));
  CHECK(c[1][1] == doctest::Approx(50.0));
  auto raw = oriented_curves({{50, 2.0}}, {true, false});
  CHECK(raw[1][0] == doctest::Approx(-2.0));
}
