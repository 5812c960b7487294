// Metrics against hand-computed values, and Δ_TTT against supplement Table 4.
#include <ATen/ATen.h>
#include "s4t_testkit/doctest.hpp"

#include <cmath>

#include "evaluation/metrics.hpp"
#include "s4t/task.hpp"

using namespace s4t;

TEST_CASE("mIoU from a confusion matrix over two batches, ignoring 255") {
  MeanIoU m(3, 255);
  // Batch 1: logits whose argmax is [0, 1, 1, 2]; labels [0, 1, 2, 255].
  auto logits = at::zeros({1, 3, 1, 4});
  logits[0][0][0][0] = 1; logits[0][1][0][1] = 1; logits[0][1][0][2] = 1; logits[0][2][0][3] = 1;
  auto labels = at::tensor({0, 1, 2, 255}, at::kLong).reshape({1, 1, 4});
  m.update(logits, labels, at::Tensor());
  // Batch 2: predicted [2, 2], labels [2, 0].
  auto logits2 = at::zeros({1, 3, 1, 2});
  logits2[0][2][0][0] = 1; logits2[0][2][0][1] = 1;
  m.update(logits2, at::tensor({2, 0}, at::kLong).reshape({1, 1, 2}), at::Tensor());
  // Confusion (gt x pred): class0: TP1 FN1 FP0 -> 1/2; class1: TP1 FP1 FN0 -> 1/2; class2: TP1 FP1 FN1 -> 1/3.
  CHECK(m.value() == doctest::Approx((0.5 + 0.5 + 1.0 / 3.0) / 3.0 * 100.0));
  auto c = m.confusion().reshape({3, 3});
  CHECK(c.sum().item<double>() == 5.0);
}

TEST_CASE("mIoU respects the validity mask and gives 0 IoU to absent classes") {
  MeanIoU m(2, 255);
  auto logits = at::zeros({1, 2, 1, 2});
  logits[0][0][0][0] = 1; logits[0][0][0][1] = 1;
  auto labels = at::tensor({0, 1}, at::kLong).reshape({1, 1, 2});
  auto mask = at::tensor({1, 0}).to(at::kBool).reshape({1, 1, 1, 2});
  m.update(logits, labels, mask);
  CHECK(m.value() == doctest::Approx(50.0));  // class 0 IoU 1, class 1 IoU 0 (0/0 -> 0)
}

TEST_CASE("plain RMSE over the whole set, not averaged per batch") {
  Rmse r(false);
  auto mask = at::ones({1, 1, 1, 2}, at::kBool);
  r.update(at::tensor({1.0f, 2.0f}).reshape({1, 1, 1, 2}), at::tensor({0.0f, 0.0f}).reshape({1, 1, 1, 2}), mask);
  r.update(at::tensor({3.0f}).reshape({1, 1, 1, 1}), at::tensor({0.0f}).reshape({1, 1, 1, 1}), at::ones({1, 1, 1, 1}, at::kBool));
  CHECK(r.value() == doctest::Approx(std::sqrt((1.0 + 4.0 + 9.0) / 3.0)));
}

TEST_CASE("aligned RMSE fits scale and shift per batch") {
  Rmse r(true);
  auto g = at::tensor({1.0f, 2.0f, 3.0f, 4.0f}).reshape({1, 1, 2, 2});
  auto p = g.mul(0.5).add(7.0);  // exactly affine -> zero error after alignment
  r.update(p, g, at::ones({1, 1, 2, 2}, at::kBool));
  CHECK(r.value() == doctest::Approx(0.0).epsilon(1e-6));
  Rmse r2(true);
  // Constant prediction: s = 0, b = mean(g) -> RMSE = std of g (population).
  r2.update(at::full({1, 1, 2, 2}, 5.0f), g, at::ones({1, 1, 2, 2}, at::kBool));
  CHECK(r2.value() == doctest::Approx(std::sqrt(1.25)));
  // Masked pixels are left out of the fit and the error.
  Rmse r3(true);
  auto mask = at::tensor({1, 1, 1, 0}).to(at::kBool).reshape({1, 1, 2, 2});
  auto p3 = at::tensor({2.0f, 4.0f, 6.0f, 100.0f}).reshape({1, 1, 2, 2});
  r3.update(p3, g, mask);
  CHECK(r3.value() == doctest::Approx(0.0).epsilon(1e-6));
}

TEST_CASE("angular error in degrees, zero-norm predictions stay defined") {
  AngularError e;
  auto gt = at::zeros({1, 3, 1, 2});
  gt[0][2][0][0] = 1; gt[0][2][0][1] = 1;  // both +z
  auto pred = at::zeros({1, 3, 1, 2});
  pred[0][2][0][0] = 5;                    // +z, unnormalised -> 0 degrees
  pred[0][0][0][1] = 1;                    // +x -> 90 degrees
  e.update(pred, gt, at::ones({1, 1, 1, 2}, at::kBool));
  CHECK(e.value() == doctest::Approx(45.0));
  AngularError opposite;
  opposite.update(gt.neg(), gt, at::ones({1, 1, 1, 2}, at::kBool));
  CHECK(opposite.value() == doctest::Approx(180.0));
}

TEST_CASE("make_metric follows the task spec") {
  auto t = edge_task();
  auto m = make_metric(t);
  CHECK(dynamic_cast<Rmse*>(m.get()) != nullptr);
  CHECK(dynamic_cast<MeanIoU*>(make_metric(semseg_task({"a", "b"})).get()) != nullptr);
  CHECK(dynamic_cast<AngularError*>(make_metric(normals_task()).get()) != nullptr);
  // merge adds the state of two shards
  auto a = make_metric(depth_task()), b = make_metric(depth_task());
  auto ones = at::ones({1, 1, 1, 1}, at::kBool);
  a->update(at::tensor({1.0f}).reshape({1, 1, 1, 1}), at::tensor({0.0f}).reshape({1, 1, 1, 1}), ones);
  b->update(at::tensor({3.0f}).reshape({1, 1, 1, 1}), at::tensor({0.0f}).reshape({1, 1, 1, 1}), ones);
  a->merge(*b);
  CHECK(std::isfinite(a->value()));
}

TEST_CASE("Delta_TTT reproduces supplement Table 4, NYUD-v2 -> Taskonomy, every row") {
  const std::vector<double> base{48.21, 0.0507, 27.60, 0.3058};
  const std::vector<bool> higher{true, false, false, false};
  struct Row { const char* name; std::vector<double> m; double printed; };
  const std::vector<Row> rows = {
      {"TENT", {39.75, 0.0634, 37.49, 0.3084}, -19.76}, {"TIPI", {47.03, 0.0514, 28.40, 0.3052}, -1.64},
      {"TTT", {49.66, 0.0523, 31.96, 0.3094}, -4.28},   {"TTT++", {39.29, 0.0595, 36.53, 0.3132}, -17.65},
      {"TTTFlow", {48.56, 0.0540, 34.36, 0.3086}, -7.73}, {"ClusT3", {51.14, 0.0516, 30.03, 0.3065}, -1.16},
      {"ActMAD", {55.04, 0.0506, 27.88, 0.3081}, 3.17}, {"NC-TTT", {49.95, 0.0516, 29.95, 0.3093}, -1.96},
      {"S4T", {53.12, 0.0511, 27.58, 0.3089}, 2.13}};
  for (auto& r : rows) {
    CAPTURE(r.name);
    // The table's metrics are rounded to 4 significant digits, so the printed Δ is matched to ±0.07.
    CHECK(std::abs(delta_ttt(base, r.m, higher) - r.printed) < 0.07);
  }
  CHECK(delta_ttt(base, base, higher) == doctest::Approx(0.0));
}

TEST_CASE("Delta_TTT rejects mismatched inputs") {
  CHECK_THROWS(delta_ttt({1.0}, {1.0, 2.0}, {true}));
  CHECK(relative_gain(2.0, 1.0, false) == doctest::Approx(50.0));
  CHECK(relative_gain(2.0, 1.0, true) == doctest::Approx(-50.0));
}
