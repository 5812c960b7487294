// The supervised task losses of the paper's source objective on hand-computed cases.
#include <ATen/ATen.h>
#include "s4t_testkit/doctest.hpp"

#include <cmath>

#include "s4t/losses.hpp"
#include "s4t/task.hpp"

using namespace s4t;

namespace {
Batch one_task(const std::string& name, at::Tensor target, at::Tensor mask) {
  Batch b;
  b.images = at::zeros({target.size(0), 3, 1, 1});
  b.targets[name] = target;
  b.masks[name] = mask;
  return b;
}
}  // namespace

TEST_CASE("cross entropy averages over non-ignored pixels; all-ignored gives 0") {
  auto spec = semseg_task({"a", "b"});
  auto logits = at::zeros({1, 2, 1, 2});  // uniform -> CE = log 2 per pixel
  auto labels = at::tensor({0, 255}, at::kLong).reshape({1, 1, 2});
  auto b = one_task("semseg", labels, labels.ne(255).unsqueeze(1));
  CHECK(task_loss(spec, logits, b).item<double>() == doctest::Approx(std::log(2.0)));
  auto none = one_task("semseg", at::full({1, 1, 2}, 255, at::kLong), at::zeros({1, 1, 1, 2}, at::kBool));
  CHECK(task_loss(spec, logits, none).item<double>() == doctest::Approx(0.0));
}

TEST_CASE("depth L1 over valid pixels only") {
  auto spec = depth_task();
  auto pred = at::tensor({1.0f, 5.0f, 100.0f}).reshape({1, 1, 1, 3});
  auto gt = at::tensor({2.0f, 2.0f, 0.0f}).reshape({1, 1, 1, 3});
  auto mask = at::tensor({1, 1, 0}).to(at::kBool).reshape({1, 1, 1, 3});
  CHECK(task_loss(spec, pred, one_task("depth", gt, mask)).item<double>() == doctest::Approx(2.0));
}

TEST_CASE("normals L1 normalises the prediction and sums over channels") {
  auto spec = normals_task();
  auto pred = at::zeros({1, 3, 1, 1});
  pred[0][0][0][0] = 3.0;  // -> (1,0,0)
  auto gt = at::zeros({1, 3, 1, 1});
  gt[0][1][0][0] = 1.0;    // (0,1,0): |1-0| + |0-1| + 0 = 2
  CHECK(task_loss(spec, pred, one_task("normals", gt, at::ones({1, 1, 1, 1}, at::kBool))).item<double>() ==
        doctest::Approx(2.0));
}

TEST_CASE("balanced BCE weights positives by 0.95 and negatives by 0.05") {
  auto spec = edge_task();
  auto logits = at::zeros({1, 1, 1, 2});  // sigma = 0.5 -> -log = log 2
  auto gt = at::tensor({1.0f, 0.0f}).reshape({1, 1, 1, 2});
  auto v = task_loss(spec, logits, one_task("edge", gt, at::ones({1, 1, 1, 2}, at::kBool))).item<double>();
  CHECK(v == doctest::Approx((0.95 * std::log(2.0) + 0.05 * std::log(2.0)) / 2.0));
}

TEST_CASE("weighted_sum uses task weights, also for deep-supervision terms") {
  std::vector<TaskSpec> tasks{depth_task(), edge_task()};
  std::map<std::string, at::Tensor> losses{{"depth", at::scalar_tensor(1.0)}, {"edge", at::scalar_tensor(1.0)},
                                           {"edge@ds1", at::scalar_tensor(2.0)}};
  CHECK(weighted_sum(tasks, losses).item<double>() == doctest::Approx(1.0 + 50.0 + 100.0));
  CHECK_THROWS(weighted_sum(tasks, {{"semseg", at::scalar_tensor(1.0)}}));
}
