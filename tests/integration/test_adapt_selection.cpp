// Through the adapter on tiny synthetic data: [ttt] grid sizes the fused grid from the source or the
// target images, and select = "validation" chooses the step on a held-out split disjoint from the
// evaluated images.
#include <ATen/ATen.h>
#include <torch/nn/module.h>

#include "config/experiment.hpp"
#include "drift_runs.hpp"
#include "engine/adapter.hpp"
#include "s4t/error.hpp"
#include "s4t_testkit/doctest.hpp"

using namespace s4t;
using namespace s4t::host;

namespace {

struct Fixture : test::DriftRuns {
  // Source 32x32, target 12 images of 48x64; `ttt` is appended to [ttt].
  Experiment experiment(const std::string& ttt, int steps = 3) {
    auto tree = ConfigTree::parse(
        "[run]\nname = \"select\"\noutput_dir = \"" + (dir.path() / "runs").string() +
            "\"\nprogress = false\n[backbone.resnet]\ndepth = 18\nwidth = 4\n"
            "[data.source]\ndataset = \"synthetic\"\nsize = 8\nheight = 32\nwidth = 32\n"
            "[data.target]\ndataset = \"synthetic\"\ndomain = \"target\"\nsize = 12\nheight = 48\nwidth = 64\n"
            "[data]\nworkers = 0\n[train]\niterations = 2\nbatch = 4\n[ttt]\nmethod = \"drift\"\nsteps = " + std::to_string(steps) +
            "\nbatch = 4\naffinity = false\n" + ttt,
        "select.toml");
    return validate_experiment(tree, registry);
  }
  Trajectory adapt_with(const std::string& ttt, int steps = 3) { return adapt_drift(experiment(ttt, steps)); }
};
}  // namespace

TEST_CASE("grid = source builds the fused grid for the source size, grid = target for the target's") {
  Fixture f;
  auto source = f.adapt_with("grid = \"source\"\n", 1);
  CHECK(source.grid_size == std::array<std::int64_t, 2>{32, 32});
  CHECK(source.fused_size == std::array<std::int64_t, 2>{8, 8});
  auto target = f.adapt_with("grid = \"target\"\n", 1);
  CHECK(target.grid_size == std::array<std::int64_t, 2>{48, 64});
  CHECK(target.fused_size == std::array<std::int64_t, 2>{12, 16});
  CHECK(target.images == 12);
  // The same checkpoint, another grid: the predictions differ.
  CHECK(target.values[0] != source.values[0]);
}

TEST_CASE("select = validation chooses on held-out images and evaluates the others") {
  Fixture f;
  auto tr = f.adapt_with("select = \"validation\"\nvalidation_size = 4\n");
  CHECK(tr.selection == "validation");
  CHECK(tr.validation_images == 4);
  CHECK(tr.images == 8);     // 12 - 4: the validation images are not evaluated
  CHECK(tr.batches == 2);    // 8 images in batches of 4
  CHECK(tr.updates == 2 * 3);  // the validation pass's steps are not counted as the run's
  REQUIRE(tr.validation_delta.size() == tr.steps.size());
  CHECK(tr.selected == best_step_index(tr.validation_delta));
  CHECK(tr.selected >= 1);
  // Without a validation split every target image is evaluated: another Base (step 0).
  auto whole = f.adapt_with("select = \"last\"\n");
  CHECK(whole.images == 12);
  CHECK(whole.selected == whole.steps.size() - 1);
  CHECK(whole.values[0] != tr.values[0]);
}

TEST_CASE("bad step selections stop before anything is adapted") {
  Fixture f;
  CHECK_THROWS_WITH_AS(step_selection(f.experiment("select = \"validation\"\n")),
                       doctest::Contains("validation_size"), ConfigError);
  CHECK_THROWS_WITH_AS(step_selection(f.experiment("select = \"step:7\"\n")), doctest::Contains("not an evaluated step"),
                       ConfigError);
  CHECK_THROWS_WITH_AS(step_selection(f.experiment("select = \"step:2\"\neval_every = 4\n", 4)),
                       doctest::Contains("0, 4"), ConfigError);
  CHECK(step_selection(f.experiment("select = \"step:3\"\n")).step == 3);
  CHECK_THROWS_WITH_AS(f.adapt_with("select = \"validation\"\nvalidation_size = 12\n"),
                       doctest::Contains("holds out every target image"), ConfigError);
}
