#pragma once
// Adapter tests on tiny synthetic data with the deterministic "drift" method (depth_shrink_method.hpp):
// the shipped plugins and drift in one registry, a temporary folder for the runs, and adapt() from the
// source checkpoint the run trains (or finds) first.
#include <string>

#include "config/experiment.hpp"
#include "depth_shrink_method.hpp"
#include "engine/adapter.hpp"
#include "engine/trainer.hpp"
#include "plugins/plugin_loader.hpp"
#include "run/run_directory.hpp"
#include "test_support.hpp"

namespace s4t::test {

struct DriftRuns {
  TempDir dir;
  host::ComponentRegistry registry;
  DriftRuns() {
    host::load_plugin_dirs({plugin_dir()}, registry);
    register_depth_shrink_method(registry, "drift");
  }
  /// `x` adapted with drift.
  host::Trajectory adapt_drift(const host::Experiment& x) {
    host::RunDirectory run(x, registry, "test");
    return host::adapt(x, registry, "drift", host::ensure_source_checkpoint(x, registry, run, "drift"));
  }
};

}  // namespace s4t::test
