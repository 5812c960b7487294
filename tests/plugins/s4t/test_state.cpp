// The s4t method's state through write_state_dict / read_state_dict (a checkpoint's method part), and
// the method on the tiny ResNet model the host composes.
#include <ATen/ATen.h>
#include <torch/nn/module.h>

#include <cmath>

#include "fake_models.hpp"
#include "s4t/state_dict.hpp"
#include "test_support.hpp"

using namespace s4t;
using namespace s4t::test;

TEST_CASE("s4t plugin: method state round trip through write_state_dict / read_state_dict") {
  test::TempDir dir;
  auto a = make_setup(8);
  auto b = make_setup(9);  // other random init
  at::manual_seed(17);
  auto images = at::randn({2, 3, 32, 32});
  const double la = adaptation_loss_value(a, images, 21, NormMode::Eval);
  CHECK(adaptation_loss_value(b, images, 21, NormMode::Eval) != la);

  // Same backbone and heads (the host's checkpoint), then the method module through a file.
  StateDict base;
  for (auto& [name, t] : state_dict_of(a.model->root()))
    if (name.rfind("method.", 0) != 0) base[name] = t;
  load_state_dict(b.model->root(), base, "", /*strict=*/false);
  const auto file = dir.path() / "s4t_method.pt";
  write_state_dict(file, state_dict_of(*a.method->module()));
  auto loaded = read_state_dict(file);
  CHECK(loaded.count("tbs.pos_embed") == 1);
  CHECK(loaded.count("tbs.mask_token") == 1);
  auto report = load_state_dict(*b.method->module(), loaded, "", /*strict=*/true);
  CHECK(report.missing.empty());
  CHECK(report.unexpected.empty());
  for (auto& [name, t] : state_dict_of(*b.method->module())) {
    INFO(name);
    CHECK(at::equal(t, loaded.at(name)));
  }
  CHECK(adaptation_loss_value(b, images, 21, NormMode::Eval) == la);  // identical TBS output, same mask
  CHECK(adaptation_loss_value(b, images, 22, NormMode::Eval) == adaptation_loss_value(a, images, 22, NormMode::Eval));
  at::NoGradGuard no_grad;
  auto za = a.method->task_latents(*a.model, images), zb = b.method->task_latents(*b.model, images);
  for (auto& [task, z] : za) CHECK(at::equal(z, zb.at(task)));
}

TEST_CASE("s4t plugin: on the host's tiny ResNet model") {
  testkit::Recipe r;
  r.method = "s4t";
  r.method_options = tiny_options();
  r.seed = 18;
  testkit::TinyExperiment x(r);
  auto counts = x.parameter_counts();
  CHECK(counts["method"] > 0);
  auto batch = x.random_batch(2, 3);
  auto loss = x.source_loss(batch);
  CHECK(std::isfinite(loss.item<double>()));
  x.root().train();
  auto ttt = x.method().adaptation_loss(x.model(), batch.images, AdaptContext{});
  CHECK(std::isfinite(ttt.item<double>()));
}
