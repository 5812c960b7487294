#include "cli/host_context.hpp"

#include <ATen/Parallel.h>
#include <malloc.h>
#include <sched.h>
#include <spdlog/spdlog.h>

#include <thread>

#include "plugins/plugin_loader.hpp"
#include "s4t/log.hpp"

namespace fs = std::filesystem;

namespace s4t::host {

void configure_runtime(int threads) {
  static bool malloc_tuned = false;
  if (!malloc_tuned) {
    // glibc returns large activation buffers to the OS after every step (mmap/munmap churn, page
    // faults): keep them instead. Measured ~2x on a ResNet-50 train step (TOOLCHAIN.md §5).
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
std::vector<fs::path> to_paths(const std::vector<std::string>& v) { return {v.begin(), v.end()}; }

void set_log_level(const std::string& level) {
  if (!level.empty()) logger()->set_level(spdlog::level::from_str(level));
}
}  // namespace

HostContext open_plugins(const CommonArgs& args) {
  set_log_level(args.log_level);
  HostContext ctx;
  load_plugin_dirs(plugin_search_path(to_paths(args.plugin_dirs), {}), ctx.registry);
  return ctx;
}

HostContext open_experiment(const fs::path& config, const CommonArgs& args) {
  set_log_level(args.log_level);
  ConfigTree tree = ConfigTree::load(config);
  for (auto& s : args.sets) tree.set_override(s);
  HostContext ctx;
  load_plugin_dirs(plugin_search_path(to_paths(args.plugin_dirs), config_plugin_dirs(tree)), ctx.registry);
  ctx.experiment = validate_experiment(tree, ctx.registry);
  auto& run = ctx.experiment->section("run");
  if (args.log_level.empty()) set_log_level(run.get_string("log_level"));
  configure_runtime(static_cast<int>(run.get_int("threads")));
  return ctx;
}

}  // namespace s4t::host
