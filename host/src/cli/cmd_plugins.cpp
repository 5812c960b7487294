// `s4t plugins [show NAME]`: what was found (kind, name, version, file), what failed and why, and
// a component's schema and documentation.
#include <algorithm>
#include <iomanip>
#include <iostream>

#include "cli/arguments.hpp"
#include "cli/commands.hpp"
#include "cli/schema_printing.hpp"
#include "s4t/error.hpp"
#include "util/closest_match.hpp"

namespace s4t::host {

int cmd_plugins(const std::vector<std::string>& args) {
  CommonArgs common;
  po::options_description options("s4t plugins options");
  add_common_options(options, common);
  std::vector<std::string> rest;
  options.add_options()("words", po::value<std::vector<std::string>>(&rest), "show NAME");
  po::options_description all;
  all.add(options);
  po::positional_options_description positional;
  positional.add("words", -1);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(args).options(all).positional(positional).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    throw ConfigError(std::string(e.what()) + "\nusage: s4t plugins [show NAME] [--plugin-dir DIR]");
  }
  if (vm.count("help")) {
    std::cout << "usage: s4t plugins [show NAME] [--plugin-dir DIR]\n\n" << options << "\n";
    return 0;
  }
  auto ctx = open_plugins(common);
  auto& registry = ctx.registry;

  if (!rest.empty()) {
    if (rest[0] != "show" || rest.size() != 2)
      throw ConfigError("usage: s4t plugins [show NAME]; got '" + join(rest, " ") + "'");
    const std::string& name = rest[1];
    bool found = false;
    for (auto& c : registry.all()) {
      if (c.info.name != name) continue;
      found = true;
      std::cout << to_string(c.kind) << " '" << c.info.name << "' version " << c.info.version << "\n"
                << "  plugin " << c.plugin_id << " " << c.plugin_version << " from " << c.file << "\n\n"
                << c.info.summary << "\n";
      if (!c.info.doc.empty()) std::cout << "\n" << c.info.doc << "\n";
      std::cout << "\nOptions (TOML table ";
      switch (c.kind) {
        case ComponentKind::Backbone: std::cout << "[backbone." << name << "]"; break;
        case ComponentKind::Head: std::cout << "[head." << name << "]"; break;
        case ComponentKind::Method: std::cout << "[method." << name << "]"; break;
        case ComponentKind::Dataset: std::cout << "[data.source] / [data.target] with dataset = \"" << name << "\""; break;
      }
      std::cout << "):\n";
      print_schema(std::cout, c.info.schema);
      std::cout << "\n";
    }
    if (!found) {
      std::vector<std::string> names;
      for (auto& c : registry.all()) names.push_back(c.info.name);
      throw ConfigError("no component named '" + name + "'" + did_you_mean(name, names) + "; run `s4t plugins` to list them");
    }
    return 0;
  }

  size_t name_width = 6, version_width = 9;
  for (auto& c : registry.all()) {
    name_width = std::max(name_width, c.info.name.size() + 2);
    version_width = std::max(version_width, c.info.version.size() + 2);
  }
  std::cout << std::left << std::setw(10) << "KIND" << std::setw(static_cast<int>(name_width)) << "NAME"
            << std::setw(static_cast<int>(version_width)) << "VERSION" << "FILE\n";
  for (auto kind : {ComponentKind::Backbone, ComponentKind::Head, ComponentKind::Method, ComponentKind::Dataset})
    for (auto* c : registry.of_kind(kind))
      std::cout << std::setw(10) << to_string(kind) << std::setw(static_cast<int>(name_width)) << c->info.name
                << std::setw(static_cast<int>(version_width)) << c->info.version << c->file << "\n";
  if (!registry.failures().empty()) {
    std::cout << "\nFailed to load:\n";
    for (auto& f : registry.failures()) std::cout << "  " << f.file << "\n      " << f.reason << "\n";
  }
  return 0;
}

}  // namespace s4t::host
