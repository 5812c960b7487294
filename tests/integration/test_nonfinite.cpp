// Reliability: a method whose loss turns NaN has those steps skipped and counted, and the weights it
// would have corrupted stay finite.
#include <ATen/ATen.h>
#include <torch/nn/module.h>

#include "config/experiment.hpp"
#include "engine/adapter.hpp"
#include "engine/trainer.hpp"
#include "plugins/plugin_loader.hpp"
#include "run/run_directory.hpp"
#include "s4t_testkit/doctest.hpp"
#include "test_support.hpp"

using namespace s4t;
using namespace s4t::host;

namespace {
// Adapts the backbone with a loss that is NaN on every second step.
class FlakyMethod final : public TTTMethod {
 public:
  AdaptationPolicy adaptation_policy(MultiTaskModel&) override {
    AdaptationPolicy p;
    p.selects = [](const std::string& name) { return name.rfind("backbone.", 0) == 0; };
    p.adapt_norm = NormMode::TrainUpdate;
    p.optimizer.lr = 1e-3;
    return p;
  }
  at::Tensor adaptation_loss(MultiTaskModel& model, const at::Tensor& images, const AdaptContext& ctx) override {
    auto out = model.forward(images);
    auto loss = out.predictions.at("depth").pow(2).mean();
    return ctx.step % 2 == 0 ? loss.mul(std::nan("")) : loss;
  }
};
}  // namespace

TEST_CASE("non-finite adaptation steps are skipped, counted, and leave the weights finite") {
  test::TempDir dir;
  ComponentRegistry registry;
  load_plugin_dirs({test::plugin_dir()}, registry);
  StagingRegistrar staging("<test>", "test.flaky", "1.0", nullptr);
  ComponentInfo info;
  info.name = "flaky";
  info.version = "1.0";
  add_method<FlakyMethod>(staging, info, [](const BuildContext&, const Options&) { return std::make_shared<FlakyMethod>(); });
  registry.commit(staging.take(), "<test>");

  auto tree = ConfigTree::parse(
      "[run]\nname = \"nan\"\noutput_dir = \"" + (dir.path() / "runs").string() +
          "\"\nprogress = false\n[backbone.resnet]\ndepth = 18\nwidth = 4\n"
          "[data.source]\ndataset = \"synthetic\"\nsize = 8\nheight = 32\nwidth = 32\n"
          "[data.target]\ndataset = \"synthetic\"\ndomain = \"target\"\nsize = 8\nheight = 32\nwidth = 32\n"
          "[data]\nworkers = 0\n[train]\niterations = 2\nbatch = 4\n[ttt]\nmethod = \"flaky\"\nsteps = 4\nbatch = 4\n"
          "affinity = false\n",
      "nan.toml");
  auto x = validate_experiment(tree, registry);
  RunDirectory run(x, registry, "test");
  auto ckpt = ensure_source_checkpoint(x, registry, run, "flaky");
  auto tr = adapt(x, registry, "flaky", ckpt);
  CHECK(tr.batches == 2);
  CHECK(tr.nonfinite_steps == 4);  // steps 2 and 4 of both batches
  CHECK(tr.updates == 4);
  for (auto& row : tr.values)
    for (double v : row) CHECK(std::isfinite(v));
}
