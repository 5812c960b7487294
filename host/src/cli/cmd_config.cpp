// `s4t config keys`: every key of the host's own tables with its type, default, range or choices and
// doc (components' tables are documented by `s4t plugins show NAME`).
#include <algorithm>
#include <iostream>

#include "cli/arguments.hpp"
#include "cli/commands.hpp"
#include "cli/schema_printing.hpp"
#include "config/host_schema.hpp"
#include "s4t/error.hpp"
#include "util/closest_match.hpp"

namespace s4t::host {

namespace {
const char* kConfigUsage = "s4t config keys";

void print_keys() {
  const auto& sections = host_sections();
  // The order an experiment file is read in; any other table follows alphabetically.
  std::vector<std::string> order = {"run", "model", "tasks", "data", "train", "ttt", "compare", "plugins"};
  for (auto& [name, schema] : sections)
    if (std::find(order.begin(), order.end(), name) == order.end()) order.push_back(name);
  std::cout << "Keys of the host's tables (defaults apply to keys a config leaves out):\n";
  for (auto& name : order) {
    auto it = sections.find(name);
    if (it == sections.end()) continue;
    std::cout << "\n[" << name << "]\n";
    print_schema(std::cout, it->second);
    if (name == "data") {
      std::cout << "\n[data.source] / [data.target]\n";
      print_schema(std::cout, data_role_schema());
    }
  }
  std::cout << "\nComponent tables [backbone.<name>], [head.<name>], [method.<name>] and the dataset keys of\n"
               "[data.source] / [data.target]: `s4t plugins show NAME`.\n";
}
}  // namespace

int cmd_config(const std::vector<std::string>& args) {
  std::vector<std::string> words;
  po::options_description options("s4t config options");
  options.add_options()("help,h", "show this help");
  po::options_description all;
  all.add(options);
  all.add_options()("words", po::value<std::vector<std::string>>(&words), "subcommand");
  po::positional_options_description positional;
  positional.add("words", -1);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(args).options(all).positional(positional).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    throw ConfigError(std::string(e.what()) + "\nusage: " + kConfigUsage);
  }
  if (vm.count("help")) {
    std::cout << "usage: " << kConfigUsage << "\n\n" << options << "\n";
    return 0;
  }
  const std::vector<std::string> subcommands = {"keys"};
  if (words.empty()) throw ConfigError(std::string("missing subcommand\nusage: ") + kConfigUsage);
  if (words[0] != "keys")
    throw ConfigError("unknown subcommand '" + words[0] + "'" + did_you_mean(words[0], subcommands) + "\nusage: " + kConfigUsage);
  if (words.size() > 1)
    throw ConfigError("`s4t config keys` takes no arguments; got '" + join({words.begin() + 1, words.end()}, " ") + "'");
  print_keys();
  return 0;
}

}  // namespace s4t::host
