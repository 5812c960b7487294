#include "run/run_directory.hpp"

#include <ATen/Parallel.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/spdlog.h>
#include <torch/version.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "distributed/launch_environment.hpp"
#include "run/build_info.hpp"
#include "s4t/error.hpp"
#include "run/logging.hpp"
#include "s4t/state_dict.hpp"
#include "s4t/version.hpp"
#include "util/error_text.hpp"

namespace fs = std::filesystem;

namespace s4t::host {

void write_json(const fs::path& path, const nlohmann::json& value) { write_file_atomically(path, value.dump(2) + "\n"); }

nlohmann::json read_json(const fs::path& path) {
  std::ifstream in(path);
  if (!in) throw Error("cannot read '" + path.string() + "'");
  try {
    return nlohmann::json::parse(in);
  } catch (const std::exception& e) {
    throw Error("'" + path.string() + "' is not valid JSON: " + error_text(e));
  }
}

nlohmann::json environment_info(const Experiment& x, const std::string& command) {
  nlohmann::json env;
  env["s4t_version"] = kSdkVersion;
  env["sdk_abi_version"] = kSdkAbiVersion;
  env["git_revision"] = build_git_revision();
  env["compiler"] = build_compiler();
  env["torch_version"] = TORCH_VERSION;
  env["device"] = x.section("run").get_string("device");
  env["threads"] = at::get_num_threads();
  env["parallel_info"] = at::get_parallel_info();
  env["seed"] = x.section("run").get_int("seed");
  if (const auto& launch = launch_environment(); launch.distributed()) {
    env["world_size"] = launch.world_size;
    env["launch"] = launch.describe();
    env["backend"] = x.section("run").get_string("backend");
  }
  env["command"] = command;
  env["config_files"] = x.files;
  std::ifstream blas("/proc/self/maps");
  std::string line, blas_lib;
  while (std::getline(blas, line))
    if (line.find("libblas") != std::string::npos || line.find("openblas") != std::string::npos) {
      blas_lib = line.substr(line.find('/'));
      break;
    }
  std::error_code ec;
  env["blas"] = blas_lib.empty() ? "unknown" : fs::canonical(blas_lib, ec).string();
  return env;
}

RunDirectory::RunDirectory(const Experiment& x, const ComponentRegistry& registry, const std::string& command)
    : path_(x.run_dir()) {
  // Distributed runs: rank 0 alone writes the run directory (the others would race it on a shared disk).
  if (!is_primary_process()) return;
  fs::create_directories(path_);
  // One run's log file at a time: a comparison opens one run directory per seed.
  static std::shared_ptr<spdlog::sinks::sink> current_file_sink;
  auto sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>((path_ / "log.txt").string(), /*truncate=*/false);
  sink->set_pattern("[%Y-%m-%d %H:%M:%S.%e] [%l] %v");
  auto& sinks = logger()->sinks();
  if (current_file_sink) sinks.erase(std::remove(sinks.begin(), sinks.end(), current_file_sink), sinks.end());
  sinks.push_back(sink);
  current_file_sink = sink;
  // Resolved config + which plugin file and version provided each component.
  std::ostringstream text;
  text << "# Resolved by `" << command << "`; defaults filled in.\n";
  auto component = [&](ComponentKind kind, const std::string& name) {
    if (auto* c = registry.find(kind, name))
      text << "# " << to_string(kind) << " " << name << " " << c->info.version << " from " << c->file << "\n";
  };
  component(ComponentKind::Backbone, x.backbone.name);
  component(ComponentKind::Head, x.head.name);
  component(ComponentKind::Dataset, x.source.name);
  component(ComponentKind::Dataset, x.target.name);
  for (auto& [name, options] : x.methods) component(ComponentKind::Method, name);
  text << "\n" << x.resolved().to_toml();
  write_file_atomically(path_ / "config.toml", text.str());
  write_json(path_ / "environment.json", environment_info(x, command));
}

}  // namespace s4t::host
