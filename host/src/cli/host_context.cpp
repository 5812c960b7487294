#include "cli/host_context.hpp"

#include <ATen/Parallel.h>
#include <malloc.h>
#include <sched.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <thread>

#include "engine/setup.hpp"
#include "plugins/plugin_loader.hpp"
#include "run/logging.hpp"
#include "s4t/error.hpp"
#include "util/closest_match.hpp"

namespace fs = std::filesystem;

namespace s4t::host {

void configure_runtime(int threads) {
  static bool malloc_tuned = false;
  if (!malloc_tuned) {
    // glibc returns large activation buffers to the OS after every step (mmap/munmap churn, page
    // faults): keep them instead. Measured ~2x on a ResNet-50 train step (docs/decisions.md).
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
    mallopt(M_TOP_PAD, 256 << 20);
    malloc_tuned = true;
  }
  if (threads <= 0) {
    cpu_set_t set;
    threads = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : static_cast<int>(std::thread::hardware_concurrency());
    if (threads <= 0) threads = 1;
  }
  // LibTorch sizes its pool by physical cores and starts with 1 thread on small VMs.
  at::set_num_threads(threads);
}

namespace {
// --plugin-dir names folders the user means: one that is not there is a mistake, not an empty search.
std::vector<fs::path> cli_plugin_dirs(const std::vector<std::string>& dirs) {
  std::vector<fs::path> out;
  for (auto& d : dirs) {
    std::error_code ec;
    if (!fs::is_directory(d, ec))
      throw ConfigError("--plugin-dir '" + d + "': " + (fs::exists(d, ec) ? "not a folder" : "no such folder"));
    out.emplace_back(d);
  }
  return out;
}

void set_log_level(const std::string& level, const std::string& where) {
  if (level.empty()) return;
  static const std::vector<std::string> levels = {"trace", "debug", "info", "warn", "error"};
  if (std::find(levels.begin(), levels.end(), level) == levels.end())
    throw ConfigError(where + ": log level '" + level + "' is not one of " + join(levels) + did_you_mean(level, levels));
  logger()->set_level(spdlog::level::from_str(level));
  install_sdk_log_sink();  // plugins' lines follow the new level
}
}  // namespace

HostContext open_plugins(const CommonArgs& args) {
  set_log_level(args.log_level, "--log-level");
  HostContext ctx;
  load_plugin_dirs(plugin_search_path(cli_plugin_dirs(args.plugin_dirs), {}), ctx.registry);
  return ctx;
}

HostContext open_experiment(const fs::path& config, const CommonArgs& args) {
  set_log_level(args.log_level, "--log-level");
  auto plugin_dirs = cli_plugin_dirs(args.plugin_dirs);
  ConfigTree tree = ConfigTree::load(config);
  for (auto& s : args.sets) tree.set_override(s);
  HostContext ctx;
  load_plugin_dirs(plugin_search_path(plugin_dirs, config_plugin_dirs(tree)), ctx.registry);
  ctx.experiment = validate_experiment(tree, ctx.registry);
  ctx.config = std::move(tree);
  auto& run = ctx.experiment->section("run");
  if (args.log_level.empty()) set_log_level(run.get_string("log_level"), "[run] log_level");
  configure_runtime(static_cast<int>(run.get_int("threads")));
  run_device(*ctx.experiment);  // an unusable [run] device is a config error before any run directory exists
  return ctx;
}

}  // namespace s4t::host
