#include "study/corruption_sweep.hpp"

#include <algorithm>
#include <set>

#include "config/experiment.hpp"
#include "engine/setup.hpp"
#include "run/logging.hpp"
#include "s4t/error.hpp"
#include "s4t/state_dict.hpp"
#include "study/sweep.hpp"
#include "util/error_text.hpp"

namespace fs = std::filesystem;

namespace s4t::host {

std::vector<std::string> expand_corruptions(const std::string& list) {
  if (list == "all")
    return {"gaussian_noise", "shot_noise", "impulse_noise", "defocus_blur", "glass_blur",
            "motion_blur",    "zoom_blur",  "snow",          "frost",        "fog",
            "brightness",     "contrast",   "elastic_transform", "pixelate", "jpeg_compression"};
  std::vector<std::string> names;
  std::set<std::string> seen;
  std::string current;
  for (size_t i = 0; i <= list.size(); ++i) {
    if (i < list.size() && list[i] != ',') {
      if (list[i] != ' ') current += list[i];
      continue;
    }
    if (current.empty()) throw ConfigError("--corruptions '" + list + "': an empty name; expected all or name,name,...");
    if (current == "all") throw ConfigError("--corruptions: 'all' stands alone (the 15 ImageNet-C corruptions)");
    if (!seen.insert(current).second) throw ConfigError("--corruptions: '" + current + "' is listed twice");
    names.push_back(current);
    current.clear();
  }
  return names;
}

CorruptionSweepResult run_corruption_sweep(const ConfigTree& config, const ComponentRegistry& registry,
                                           const std::vector<std::string>& corruptions,
                                           const std::vector<std::int64_t>& severities,
                                           const std::vector<std::string>& methods,
                                           const std::vector<std::int64_t>& seeds, const std::string& config_name,
                                           const std::string& command_line) {
  if (corruptions.empty()) throw ConfigError("--corruptions lists no corruption");
  const Experiment base = validate_experiment(config, registry);
  const std::string name = base.section("run").get_string("name");
  std::vector<std::string> severity_labels;
  for (auto s : severities) {
    if (std::find(severity_labels.begin(), severity_labels.end(), std::to_string(s)) != severity_labels.end())
      throw ConfigError("--severities: " + std::to_string(s) + " is listed twice");
    severity_labels.push_back(std::to_string(s));
  }
  if (severity_labels.empty()) severity_labels.push_back("");  // the config's own severity

  // Every (corruption, severity) builds its target dataset now: the plugin checks the name, the
  // severity and that it can (a depth-aware corruption needs a dataset with depth).
  auto severity_config = [&](const std::string& severity) {
    ConfigTree c = config;
    if (!severity.empty()) c.set_override("data.target.severity=" + severity);
    return c;
  };
  for (auto& corruption : corruptions)
    for (auto& severity : severity_labels) {
      ConfigTree point = severity_config(severity);
      point.set_override("data.target.corruption=\"" + corruption + "\"");
      try {
        make_dataset(validate_experiment(point, registry), registry, "target");
      } catch (const std::exception& e) {
        throw ConfigError("--corruptions " + corruption + (severity.empty() ? "" : " at severity " + severity) +
                          ": " + error_text(e));
      }
    }

  CorruptionSweepResult result;
  result.dir = fs::path(base.section("run").get_string("output_dir")) / name;
  result.table = "# Corruptions: Δ_TTT (%) per method\n";
  SweepOptions options;
  options.share_source = true;
  options.summary_rows = true;
  for (auto& severity : severity_labels) {
    ConfigTree c = severity_config(severity);
    const std::string folder = severity.empty() ? "corruptions" : "severity-" + severity;
    c.set_override("run.name=\"" + name + "/" + folder + "\"");
    options.label = folder;
    logger()->info("######## corruptions at {} ########", severity.empty() ? "the config's severity" : "severity " + severity);
    auto sweep = run_sweep(c, registry, "data.target.corruption", corruptions, methods, seeds, config_name,
                           command_line, options);
    if (options.source_from.empty()) options.source_from = sweep.first_point_dir;
    result.any_failed |= sweep.any_failed;
    result.table += "\n## " + (severity.empty() ? std::string("severity as configured") : "severity " + severity) +
                    "\n\n" + sweep.table;
  }
  write_file_atomically(result.dir / "corruptions.md", result.table);
  return result;
}

}  // namespace s4t::host
