// Data-parallel gradients over Gloo on the loopback, two ranks as two threads of this process: the
// synchronised gradient is the mean of the ranks' gradients (= the gradient of the whole batch in one
// process; the model has no BatchNorm, so nothing depends on batch statistics), k Adam steps leave the
// replicas bit-identical and equal to one-process training, and a lost rank is named in the error.
#include <ATen/ATen.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/optim/adam.h>

#include <chrono>
#include <mutex>
#include <thread>

#include "distributed/gradient_sync.hpp"
#include "distributed/launch_environment.hpp"
#include "distributed/process_group.hpp"
#include "s4t/error.hpp"
#include "s4t_testkit/doctest.hpp"
#include "thread_collectives.hpp"

using namespace s4t;
using namespace s4t::host;

namespace {

LaunchEnvironment rank_env(int rank, int port, int world = 2) {
  LaunchEnvironment env;
  env.rank = env.local_rank = rank;
  env.world_size = world;
  env.master_addr = "127.0.0.1";
  env.master_port = port;
  env.source = "torchrun";
  return env;
}

// conv -> relu -> linear, a parameter only some ranks use, and one that nobody uses.
struct Net : torch::nn::Module {
  torch::nn::Conv2d conv{nullptr};
  torch::nn::Linear fc{nullptr};
  at::Tensor partial, unused;
  Net() {
    conv = register_module("conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(3, 4, 3)));
    fc = register_module("fc", torch::nn::Linear(4 * 4 * 4, 2));
    partial = register_parameter("partial", at::ones({2}));
    unused = register_parameter("unused", at::ones({3}));
  }
  at::Tensor loss(const at::Tensor& x, const at::Tensor& y, bool use_partial) {
    auto out = fc(at::relu(conv(x)).flatten(1));
    if (use_partial) out = out * partial;
    return (out - y).pow(2).mean();
  }
};

// The same initial weights on every call. The ranks are threads of one process sharing torch's global
// generator: seeding and drawing under one lock, or their draws would interleave.
std::shared_ptr<Net> make_net() {
  static std::mutex global_generator;
  std::lock_guard<std::mutex> lock(global_generator);
  at::manual_seed(3);
  return std::make_shared<Net>();
}

struct Data {
  at::Tensor x, y;
};
Data batch(int step) {
  auto g = at::make_generator<at::CPUGeneratorImpl>(100 + step);
  return {at::randn({8, 3, 6, 6}, g), at::randn({8, 2}, g)};
}

std::vector<at::Tensor> params_of(Net& net) {
  std::vector<at::Tensor> p;
  for (auto& t : net.parameters()) p.push_back(t);
  return p;
}

GroupSettings settings(int seconds) {
  GroupSettings s;
  s.backend = "gloo";
  s.timeout = std::chrono::seconds(seconds);
  return s;
}

}  // namespace

TEST_CASE("the synchronised gradient is the mean of the two batch-4 halves' gradients") {
  if (!distributed_support_compiled()) return;  // a build without Gloo: the error path is tested elsewhere
  // One process: each half's gradient, and the whole batch's (the mean of the halves: per-sample mean loss).
  auto data = batch(0);
  auto ref = make_net();
  std::vector<std::vector<at::Tensor>> halves(2);
  for (int r = 0; r < 2; ++r) {
    ref->zero_grad();
    ref->loss(data.x.narrow(0, 4 * r, 4), data.y.narrow(0, 4 * r, 4), r == 1).backward();
    for (auto& p : ref->parameters()) halves[r].push_back(p.grad().defined() ? p.grad().clone() : at::Tensor());
  }
  const int port = free_local_port();
  std::vector<std::vector<at::Tensor>> synced(2);
  std::size_t buckets = 0, overlapped = 0;
  s4t::test::run_ranks(2, [&](int r) {
    auto group = std::make_shared<DistributedGroup>(rank_env(r, port), settings(20));
    auto net = make_net();
    // Tiny buckets: several, so some are all-reduced while the backward pass is still running.
    GradientSync sync(group, params_of(*net), 256, 256);
    if (r == 0) buckets = sync.bucket_count();
    sync.prepare();
    net->loss(data.x.narrow(0, 4 * r, 4), data.y.narrow(0, 4 * r, 4), r == 1).backward();
    CHECK_FALSE(sync.finish(false));
    if (r == 0) overlapped = sync.buckets_overlapped();
    for (auto& p : net->parameters()) synced[r].push_back(p.grad().defined() ? p.grad().clone() : at::Tensor());
  });
  CHECK(buckets > 2);
  CHECK(overlapped > 0);  // all-reduced from the hooks, during the backward pass
  auto names = ref->named_parameters();
  for (std::size_t k = 0; k < names.size(); ++k) {
    const std::string name = names[k].key();
    CAPTURE(name);
    if (name == "unused") {  // no rank used it: no gradient, as in one process
      CHECK_FALSE(synced[0][k].defined());
      CHECK_FALSE(synced[1][k].defined());
      continue;
    }
    at::Tensor h0 = halves[0][k].defined() ? halves[0][k] : at::zeros_like(halves[1][k]);
    auto mean = (h0 + halves[1][k]) / 2;  // "partial" counts as zero on rank 0, which did not use it
    CHECK(at::allclose(synced[0][k], mean, 1e-5, 1e-6));
    CHECK(at::equal(synced[0][k], synced[1][k]));
  }
}

TEST_CASE("k Adam steps on 2 ranks x batch 4 give the same weights on both ranks, and those of one process with batch 8") {
  if (!distributed_support_compiled()) return;
  constexpr int kSteps = 4;
  auto single = make_net();
  {
    torch::optim::Adam adam(single->parameters(), torch::optim::AdamOptions(1e-2));
    for (int s = 0; s < kSteps; ++s) {
      auto d = batch(s);
      adam.zero_grad();
      single->loss(d.x, d.y, false).backward();
      adam.step();
    }
  }
  const int port = free_local_port();
  std::shared_ptr<Net> nets[2];
  s4t::test::run_ranks(2, [&](int r) {
    auto group = std::make_shared<DistributedGroup>(rank_env(r, port), settings(20));
    auto net = make_net();
    torch::optim::Adam adam(net->parameters(), torch::optim::AdamOptions(1e-2));
    GradientSync sync(group, params_of(*net));
    for (int s = 0; s < kSteps; ++s) {
      auto d = batch(s);
      adam.zero_grad();
      sync.prepare();
      net->loss(d.x.narrow(0, 4 * r, 4), d.y.narrow(0, 4 * r, 4), false).backward();
      sync.finish(false);
      adam.step();
    }
    nets[r] = net;
  });
  auto a = nets[0]->named_parameters(), b = nets[1]->named_parameters(), c = single->named_parameters();
  for (std::size_t k = 0; k < a.size(); ++k) {
    CAPTURE(a[k].key());
    CHECK(at::equal(a[k].value(), b[k].value()));
    CHECK(at::allclose(a[k].value(), c[k].value(), 1e-5, 1e-6));  // the 1e-5
  }
  // Adam moved the trained weights (the check above is not trivially true).
  CHECK_FALSE(at::allclose(nets[0]->conv->weight, make_net()->conv->weight));
}

TEST_CASE("a stop request on one rank stops both at the same step") {
  if (!distributed_support_compiled()) return;
  const int port = free_local_port();
  bool stopped[2] = {false, false};
  s4t::test::run_ranks(2, [&](int r) {
    auto group = std::make_shared<DistributedGroup>(rank_env(r, port), settings(20));
    auto net = make_net();
    GradientSync sync(group, params_of(*net));
    auto d = batch(0);
    sync.prepare();
    net->loss(d.x, d.y, false).backward();
    stopped[r] = sync.finish(/*stop_requested=*/r == 1);
  });
  CHECK(stopped[0]);
  CHECK(stopped[1]);
}

TEST_CASE("a rank that stops with an error, or goes silent, is named by the other") {
  if (!distributed_support_compiled()) return;
  for (bool announce : {true, false}) {
    CAPTURE(announce);
    const int port = free_local_port();
    std::string message;
    auto t0 = std::chrono::steady_clock::now();
    s4t::test::run_ranks(2, [&](int r) {
      auto group = std::make_shared<DistributedGroup>(rank_env(r, port), settings(10));
      std::vector<at::Tensor> v{at::ones({4})};
      group->all_reduce_sum(v);  // both alive
      if (r == 1) {
        if (announce) group->announce_failure("boom on rank 1");
        group.reset();  // rank 1 leaves: sockets closed, heartbeat stopped
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      try {
        group->all_reduce_sum(v);
      } catch (const CollectiveError& e) {
        message = e.what();
      }
    });
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    CAPTURE(message);
    CHECK(message.find(announce ? "rank 1 stopped with an error: boom on rank 1" : "rank 1 stopped responding") !=
          std::string::npos);
    CHECK(seconds < 10.0);  // within [run] dist_timeout_s
  }
}

TEST_CASE("a rank that never joins is named within the timeout") {
  if (!distributed_support_compiled()) return;
  auto t0 = std::chrono::steady_clock::now();
  std::string message;
  try {
    DistributedGroup alone(rank_env(0, free_local_port()), settings(2));
  } catch (const Error& e) {
    message = e.what();
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  CAPTURE(message);
  CHECK(message.find("rank 1 did not join the run") != std::string::npos);
  CHECK(message.find("within 2 s") != std::string::npos);
  CHECK(seconds < 4.0);
}
