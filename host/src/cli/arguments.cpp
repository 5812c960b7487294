#include "cli/arguments.hpp"

#include <iostream>

#include "s4t/error.hpp"

namespace s4t::host {

void add_common_options(po::options_description& options, CommonArgs& common) {
  options.add_options()
      ("help,h", "show this help")
      ("plugin-dir", po::value<std::vector<std::string>>(&common.plugin_dirs)->composing(), "search this folder for plugins first (repeatable)")
      ("set", po::value<std::vector<std::string>>(&common.sets)->composing(), "override a config key: --set ttt.steps=10 (repeatable)")
      ("log-level", po::value<std::string>(&common.log_level), "trace, debug, info, warn, error");
}

bool parse_arguments(const std::string& usage, po::options_description& options, const std::vector<std::string>& args,
                     std::string* config, CommonArgs& common) {
  po::options_description all;
  all.add(options);
  po::positional_options_description positional;
  std::string config_value;
  if (config) {
    all.add_options()("config", po::value<std::string>(&config_value), "experiment TOML file");
    positional.add("config", 1);
  }
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(args).options(all).positional(positional).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    throw ConfigError(std::string(e.what()) + "\nusage: " + usage);
  }
  if (vm.count("help")) {
    std::cout << "usage: " << usage << "\n\n" << options << "\n";
    return false;
  }
  if (config) {
    if (config_value.empty()) throw ConfigError("missing CONFIG (an experiment TOML file)\nusage: " + usage);
    *config = config_value;
  }
  common.command_line = "s4t";
  for (auto& a : args) common.command_line += " " + a;
  return true;
}

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    std::string part = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    while (!part.empty() && part.front() == ' ') part.erase(part.begin());
    while (!part.empty() && part.back() == ' ') part.pop_back();
    if (!part.empty()) out.push_back(part);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

std::vector<std::int64_t> split_int_list(const std::string& text, const std::string& option) {
  std::vector<std::int64_t> out;
  for (auto& part : split_list(text)) {
    std::size_t used = 0;
    try {
      out.push_back(std::stoll(part, &used));
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != part.size()) throw ConfigError(option + ": '" + part + "' is not an integer");
  }
  return out;
}

}  // namespace s4t::host
