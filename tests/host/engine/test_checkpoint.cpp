// Checkpoints: round trip of weights, buffers and optimizer state; atomic writes; clear errors.
#include <ATen/ATen.h>
#include "s4t_testkit/doctest.hpp"
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/linear.h>
#include <torch/optim/adam.h>

#include <fstream>

#include "engine/checkpoint.hpp"
#include "s4t/error.hpp"
#include "s4t/state_dict.hpp"
#include "test_support.hpp"

using namespace s4t;
using namespace s4t::host;

namespace {
struct NetImpl : torch::nn::Module {
  NetImpl() {
    fc = register_module("fc", torch::nn::Linear(4, 3));
    bn = register_module("bn", torch::nn::BatchNorm1d(3));
  }
  at::Tensor forward(const at::Tensor& x) { return bn->forward(fc->forward(x)); }
  torch::nn::Linear fc{nullptr};
  torch::nn::BatchNorm1d bn{nullptr};
};
TORCH_MODULE(Net);
}  // namespace

TEST_CASE("checkpoint round trip restores parameters, buffers, optimizer state and meta") {
  test::TempDir dir;
  Net a;
  torch::optim::Adam opt(a->parameters(), torch::optim::AdamOptions(0.1));
  for (int i = 0; i < 3; ++i) {
    opt.zero_grad();
    a->forward(at::randn({8, 4})).pow(2).sum().backward();
    opt.step();
  }
  auto path = dir.path() / "ckpt.pt";
  save_checkpoint(path, *a, &opt, {{{"iteration", 3}}});
  CHECK(std::filesystem::exists(path));
  for (auto& e : std::filesystem::directory_iterator(dir.path())) CHECK(e.path().filename() == "ckpt.pt");  // no temp left

  Net b;
  torch::optim::Adam opt_b(b->parameters(), torch::optim::AdamOptions(0.1));
  auto meta = load_checkpoint(path, *b, &opt_b);
  CHECK(meta.values.at("iteration") == 3);
  CHECK(at::equal(a->fc->weight, b->fc->weight));
  CHECK(at::equal(a->bn->running_mean, b->bn->running_mean));
  // one more identical step gives identical weights: the Adam moments were restored
  auto x = at::randn({8, 4});
  opt.zero_grad();
  a->forward(x).pow(2).sum().backward();
  opt.step();
  opt_b.zero_grad();
  b->forward(x).pow(2).sum().backward();
  opt_b.step();
  CHECK(at::allclose(a->fc->weight, b->fc->weight));
}

TEST_CASE("checkpoints are readable as plain state dicts and mismatches are named") {
  test::TempDir dir;
  Net a;
  save_checkpoint(dir.path() / "c.pt", *a, nullptr, {});
  auto state = read_state_dict(dir.path() / "c.pt");
  CHECK(state.count("model.fc.weight") == 1);
  CHECK(state.count("model.bn.running_var") == 1);
  struct OtherImpl : torch::nn::Module {
    OtherImpl() { register_module("fc", torch::nn::Linear(5, 3)); }
  };
  auto other = std::make_shared<OtherImpl>();
  CHECK_THROWS_WITH(load_checkpoint(dir.path() / "c.pt", *other, nullptr), doctest::Contains("fc.weight"));
  CHECK_THROWS_WITH(load_checkpoint(dir.path() / "missing.pt", *other, nullptr), doctest::Contains("does not exist"));
  std::ofstream(dir.path() / "garbage.pt") << "not a zip";
  CHECK_THROWS_AS(read_state_dict(dir.path() / "garbage.pt"), DataError);
}
