#pragma once
// A run directory: resolved config, environment, log, metrics and checkpoints of one experiment.
//   <output_dir>/<name>/config.toml        resolved config (defaults filled in, plugin versions)
//   <output_dir>/<name>/environment.json   versions, device, threads, seed, git revision
//   <output_dir>/<name>/log.txt            everything logged
//   <output_dir>/<name>/source/<key>/      source checkpoints and training metrics
//   <output_dir>/<name>/adapt/<method>/    adaptation metrics (JSON and CSV)
#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "config/experiment.hpp"

namespace s4t::host {

class RunDirectory {
 public:
  /// Creates the folders, adds a log-file sink, writes config.toml and environment.json. In a distributed
  /// run only rank 0 does (the others just know the paths); a bad launch environment is a ConfigError here.
  RunDirectory(const Experiment& experiment, const ComponentRegistry& registry, const std::string& command);
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path source_dir(const std::string& key) const { return path_ / "source" / key; }
  std::filesystem::path adapt_dir(const std::string& method) const { return path_ / "adapt" / method; }

 private:
  std::filesystem::path path_;
};

/// Writes JSON (pretty) atomically.
void write_json(const std::filesystem::path& path, const nlohmann::json& value);
nlohmann::json read_json(const std::filesystem::path& path);
/// Environment facts: versions, device, threads, BLAS, git revision.
nlohmann::json environment_info(const Experiment& experiment, const std::string& command);

}  // namespace s4t::host
