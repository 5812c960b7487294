// s4t::nn::BatchNorm2d: torch's BatchNorm2d bit for bit when not synchronising, and PyTorch's
// SyncBatchNorm when it is: 2 thread-"ranks" × batch 4 equal 1 rank × batch 8 (outputs, running
// statistics, input and weight gradients).
#include <ATen/ATen.h>
#include <torch/nn/modules/batchnorm.h>

#include <vector>

#include "../host/distributed/thread_collectives.hpp"
#include "s4t/batch_norm.hpp"
#include "s4t/collectives.hpp"
#include "s4t_testkit/doctest.hpp"

using s4t::nn::BatchNorm2d;

namespace {

constexpr std::int64_t kChannels = 3;

// A layer with non-trivial affine parameters and running statistics (the same for every copy).
BatchNorm2d make_layer(double momentum = 0.1) {
  BatchNorm2d bn(torch::nn::BatchNorm2dOptions(kChannels).momentum(momentum));
  at::NoGradGuard no_grad;
  bn->weight.copy_(at::tensor({0.5, 1.5, -2.0}));
  bn->bias.copy_(at::tensor({0.1, -0.3, 0.7}));
  bn->running_mean.copy_(at::tensor({0.2, -0.1, 0.05}));
  bn->running_var.copy_(at::tensor({1.2, 0.8, 1.1}));
  return bn;
}

// 8 samples whose two halves come from different distributions, so per-rank statistics differ from the global ones.
at::Tensor make_input() {
  at::manual_seed(7);
  auto x = at::randn({8, kChannels, 5, 4});
  x.narrow(0, 4, 4).mul_(3.0).add_(2.0);
  return x;
}

struct Result {
  at::Tensor y, running_mean, running_var, grad_x, grad_weight, grad_bias;
  std::int64_t batches = 0;
};

// Forward (train mode) on x, backward of Σ y·g.
Result step(BatchNorm2d& bn, const at::Tensor& x_in, const at::Tensor& g, int steps = 1) {
  Result r;
  bn->train();
  at::Tensor x;
  for (int i = 0; i < steps; ++i) {
    x = x_in.detach().clone().set_requires_grad(true);
    bn->zero_grad();
    r.y = bn->forward(x);
    (r.y * g).sum().backward();
  }
  r.running_mean = bn->running_mean.clone();
  r.running_var = bn->running_var.clone();
  r.grad_x = x.grad();
  r.grad_weight = bn->weight.grad();
  r.grad_bias = bn->bias.grad();
  r.batches = bn->num_batches_tracked.item<std::int64_t>();
  return r;
}

bool close(const at::Tensor& a, const at::Tensor& b) { return at::allclose(a, b, /*rtol=*/1e-5, /*atol=*/1e-5); }

}  // namespace

TEST_CASE("BatchNorm2d without synchronisation is torch's BatchNorm2d bit for bit") {
  auto x = make_input();
  auto g = at::randn_like(x);
  for (bool sync_flag : {false, true}) {  // sync on but no collectives installed: still plain BatchNorm
    s4t::test::ScopedCollectives scope(nullptr, sync_flag);
    auto ours = make_layer();
    torch::nn::BatchNorm2d theirs(torch::nn::BatchNorm2dOptions(kChannels).momentum(0.1));
    {
      at::NoGradGuard no_grad;
      theirs->weight.copy_(ours->weight);
      theirs->bias.copy_(ours->bias);
      theirs->running_mean.copy_(ours->running_mean);
      theirs->running_var.copy_(ours->running_var);
    }
    auto a = step(ours, x, g, 2);
    // The same steps through torch's module.
    at::Tensor tx;
    at::Tensor ty;
    theirs->train();
    for (int i = 0; i < 2; ++i) {
      tx = x.detach().clone().set_requires_grad(true);
      theirs->zero_grad();
      ty = theirs->forward(tx);
      (ty * g).sum().backward();
    }
    CHECK(at::equal(a.y, ty));
    CHECK(at::equal(a.running_mean, theirs->running_mean));
    CHECK(at::equal(a.running_var, theirs->running_var));
    CHECK(at::equal(a.grad_x, tx.grad()));
    CHECK(at::equal(a.grad_weight, theirs->weight.grad()));
    ours->eval();
    theirs->eval();
    CHECK(at::equal(ours->forward(x), theirs->forward(x)));
  }
  // Parameter and buffer names are torch's.
  auto bn = make_layer();
  CHECK(bn->named_parameters().keys() == std::vector<std::string>{"weight", "bias"});
  CHECK(bn->named_buffers().keys() ==
        std::vector<std::string>{"running_mean", "running_var", "num_batches_tracked"});
  CHECK(dynamic_cast<torch::nn::BatchNorm2dImpl*>(bn.get()) != nullptr);
}

TEST_CASE("synchronised BatchNorm2d: 2 ranks x batch 4 equal 1 rank x batch 8") {
  auto x = make_input();
  at::manual_seed(11);
  auto g = at::randn_like(x);

  for (double momentum : {0.1, -1.0}) {  // -1: momentum None (cumulative average)
    CAPTURE(momentum);
    auto layer = [&] {
      auto bn = make_layer(momentum);
      if (momentum < 0) bn->options.momentum(c10::nullopt);
      return bn;
    };
    // Reference: one process with all 8 samples, two steps (the second uses updated running statistics).
    auto ref_bn = layer();
    Result ref = step(ref_bn, x, g, 2);

    // The same without synchronisation on 2 ranks differs (so the comparison below can fail).
    auto local_bn = layer();
    Result local = step(local_bn, x.narrow(0, 0, 4), g.narrow(0, 0, 4), 2);
    CHECK_FALSE(close(local.y, ref.y.narrow(0, 0, 4)));

    auto group = std::make_shared<s4t::test::ThreadCollectives>(2);
    s4t::test::ScopedCollectives scope(group, true);
    std::vector<Result> ranks(2);
    std::vector<BatchNorm2d> layers{layer(), layer()};
    s4t::test::run_ranks(2, [&](int r) {
      ranks[r] = step(layers[r], x.narrow(0, 4 * r, 4), g.narrow(0, 4 * r, 4), 2);
    });
    // Per step: one all-reduce in forward (statistics) and one in backward (Σdy, Σdy·(x − mean)).
    CHECK(group->calls() == 4);
    CHECK(close(at::cat({ranks[0].y, ranks[1].y}), ref.y));
    CHECK(close(at::cat({ranks[0].grad_x, ranks[1].grad_x}), ref.grad_x));
    // Weight and bias gradients are local; their data-parallel all-reduce (a sum) gives the global ones.
    CHECK(close(ranks[0].grad_weight + ranks[1].grad_weight, ref.grad_weight));
    CHECK(close(ranks[0].grad_bias + ranks[1].grad_bias, ref.grad_bias));
    CHECK_FALSE(close(ranks[0].grad_weight, ref.grad_weight));
    for (const auto& r : ranks) {
      CHECK(close(r.running_mean, ref.running_mean));
      CHECK(close(r.running_var, ref.running_var));  // unbiased over the global count of 8·5·4
      CHECK(r.batches == ref.batches);
    }
    // Eval mode never synchronises (a single thread calling the all-reduce would time out): running statistics.
    layers[0]->eval();
    ref_bn->eval();
    const int before = group->calls();
    CHECK(close(layers[0]->forward(x), ref_bn->forward(x)));
    CHECK(group->calls() == before);
  }
}

TEST_CASE("synchronised BatchNorm2d without affine parameters or running statistics") {
  auto x = make_input();
  auto options = torch::nn::BatchNorm2dOptions(kChannels).affine(false).track_running_stats(false);
  BatchNorm2d ref(options);
  auto ref_x = x.detach().clone().set_requires_grad(true);
  auto ref_y = ref->forward(ref_x);
  ref_y.pow(2).mul(at::arange(8.0).view({8, 1, 1, 1})).sum().backward();

  auto group = std::make_shared<s4t::test::ThreadCollectives>(2);
  s4t::test::ScopedCollectives scope(group, true);
  std::vector<at::Tensor> ys(2), grads(2);
  std::vector<BatchNorm2d> layers{BatchNorm2d(options), BatchNorm2d(options)};
  s4t::test::run_ranks(2, [&](int r) {
    auto xr = x.narrow(0, 4 * r, 4).detach().clone().set_requires_grad(true);
    ys[r] = layers[r]->forward(xr);
    ys[r].pow(2).mul(at::arange(8.0).narrow(0, 4 * r, 4).view({4, 1, 1, 1})).sum().backward();
    grads[r] = xr.grad();
  });
  CHECK(close(at::cat(ys), ref_y));
  CHECK(close(at::cat(grads), ref_x.grad()));
}
