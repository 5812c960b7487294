#include "config/experiment.hpp"

#include <set>

#include "config/host_schema.hpp"
#include "config/target_domains.hpp"
#include "s4t/error.hpp"
#include "util/closest_match.hpp"

namespace fs = std::filesystem;

namespace s4t::host {

namespace {

// Converts an untyped empty list to the schema's list type.
Value typed_empty_list(const OptionSpec& spec, const Value& v) {
  auto* strings = std::get_if<std::vector<std::string>>(&v);
  if (!strings || !strings->empty()) return v;
  if (spec.type == ValueType::IntList) return std::vector<std::int64_t>{};
  if (spec.type == ValueType::FloatList) return std::vector<double>{};
  return v;
}

// An accepted value as the declared type holds it (an integer given for a float option becomes a float).
Value as_declared(const OptionSpec& spec, Value value) {
  if (spec.type == ValueType::Float)
    if (auto* i = std::get_if<std::int64_t>(&value)) return static_cast<double>(*i);
  if (spec.type == ValueType::FloatList)
    if (auto* l = std::get_if<std::vector<std::int64_t>>(&value)) return std::vector<double>(l->begin(), l->end());
  return value;
}

// Checks one table of the tree against `schema` (`extra` keys belong to someone else and are skipped)
// and returns its Options with defaults filled in.
Options check_section(const ConfigTree& tree, const std::string& section, const Schema& schema, const std::string& label,
                      const std::set<std::string>& extra = {}) {
  Options options("[" + section + "]");
  auto entries = tree.section(section);
  for (auto& [key, entry] : entries) {
    if (extra.count(key)) continue;
    const OptionSpec* spec = schema.find(key);
    if (!spec) {
      auto valid = schema.keys();
      valid.insert(valid.end(), extra.begin(), extra.end());
      throw ConfigError(entry->where.describe() + ": unknown key '" + key + "' in [" + section + "]" +
                        (label.empty() ? "" : " (" + label + ")") + did_you_mean(key, valid) +
                        (valid.empty() ? "; this table takes no keys" : "; valid keys: " + join(valid)));
    }
    Value value = typed_empty_list(*spec, entry->value);
    if (auto problem = spec->check(value); !problem.empty())
      throw ConfigError(entry->where.describe() + ": [" + section + "] " + key + ": " + problem);
    options.set(key, as_declared(*spec, value));
  }
  for (auto& spec : schema.options())
    if (!options.has(spec.key)) options.set(spec.key, spec.default_value);
  return options;
}


}  // namespace

const Options& Experiment::method_options(const std::string& name) const {
  auto it = methods.find(name);
  if (it == methods.end()) {
    std::vector<std::string> valid;
    for (auto& [k, v] : methods) valid.push_back(k);
    throw ConfigError("unknown method '" + name + "'; valid methods: " + join(valid) + did_you_mean(name, valid));
  }
  return it->second;
}

fs::path Experiment::run_dir() const {
  auto& run = section("run");
  return fs::path(run.get_string("output_dir")) / run.get_string("name");
}

void Experiment::set(const std::string& key, const Value& value, const std::string& where) {
  auto [table, name] = split_key(key);
  const auto& sections = host_sections();
  auto schema = sections.find(table);
  const OptionSpec* spec = schema == sections.end() ? nullptr : schema->second.find(name);
  if (!spec) throw ConfigError(where + ": '" + key + "' is not a key of the host's tables");
  if (auto problem = spec->check(value); !problem.empty()) throw ConfigError(where + ": " + key + ": " + problem);
  host.at(table).set(name, as_declared(*spec, value));
}

ConfigTree Experiment::resolved() const {
  ConfigTree tree;
  auto put = [&](const std::string& table, const Options& options) {
    for (auto& [key, value] : options.values()) tree.set(table + "." + key, {value, {}});
  };
  for (auto& [name, options] : host) put(name, options);
  for (auto* role : {&source, &target}) {
    const std::string table = role == &source ? "data.source" : "data.target";
    tree.set(table + ".dataset", {role->name, {}});
    put(table, role->options);
  }
  put("backbone." + backbone.name, backbone.options);
  put("head." + head.name, head.options);
  for (auto& [table, options] : other_tables) put(table, options);
  for (auto& d : domains) {  // a table per domain: what each one is, whichever way the file named it
    tree.set("domain." + d.name + ".dataset", {d.data.name, {}});
    put("domain." + d.name, d.data.options);
  }
  for (auto& m : listed_methods) put("method." + m, method_options(m));
  return tree;
}

std::vector<fs::path> config_plugin_dirs(const ConfigTree& tree) {
  auto options = check_section(tree, "plugins", host_sections().at("plugins"), "");
  std::vector<fs::path> dirs;
  for (auto& d : options.get_string_list("dirs")) {
    fs::path p(d);
    fs::path dir = p.is_absolute() ? p : tree.base_dir() / p;
    std::error_code ec;
    if (!fs::is_directory(dir, ec))
      throw ConfigError(tree.location_of("plugins.dirs").describe() + ": [plugins] dirs: plugin folder '" + d + "'" +
                        (p.is_absolute() ? "" : " (" + dir.string() + ")") +
                        (fs::exists(dir, ec) ? " is not a folder" : " does not exist"));
    dirs.push_back(dir);
  }
  return dirs;
}

Experiment validate_experiment(const ConfigTree& tree, const ComponentRegistry& registry) {
  Experiment x;
  x.config_dir = tree.base_dir();
  x.files = tree.files();
  const auto& fixed = host_sections();

  // 1. Every table must be known. Errors about a table point at its header.
  std::vector<std::string> known_tables;
  for (auto& [name, schema] : fixed) known_tables.push_back(name);
  for (auto t : {"data.source", "data.target", "backbone.<name>", "head.<name>", "method.<name>", "domain.<name>"})
    known_tables.push_back(t);
  static const std::map<std::string, ComponentKind> component_tables = {
      {"backbone", ComponentKind::Backbone}, {"head", ComponentKind::Head}, {"method", ComponentKind::Method}};
  for (auto& section : tree.sections()) {
    if (section.empty()) {
      for (auto& [key, entry] : tree.section(""))
        throw ConfigError(entry->where.describe() + ": key '" + key +
                          "' is outside any table; valid tables: " + join(known_tables) + did_you_mean(key, known_tables));
    }
    if (fixed.count(section) || section == "data.source" || section == "data.target") continue;
    auto [parent, leaf] = split_key(section);
    const std::string where = tree.table_location(section).describe();
    auto kind = component_tables.find(parent);
    if (parent == "domain" && !leaf.empty()) continue;  // a target-stream domain: checked with [ttt] domains
    if (kind != component_tables.end()) {
      registry.get(kind->second, leaf, where + ": [" + section + "]");
      if (kind->second == ComponentKind::Method) x.listed_methods.insert(leaf);
      continue;
    }
    throw ConfigError(where + ": unknown table [" + section + "]" + did_you_mean(section, known_tables) +
                      "; valid tables: " + join(known_tables));
  }

  // 2. Host sections.
  for (auto& [name, schema] : fixed) x.host[name] = check_section(tree, name, schema, "");

  // 3. Tasks.
  auto& tasks = x.host["tasks"];
  auto names = tasks.get_string_list("names");
  if (names.empty()) throw ConfigError(tree.location_of("tasks.names").describe() + ": [tasks] names is empty; name at least one task");
  for (size_t i = 0; i < names.size(); ++i)
    for (size_t k = 0; k < i; ++k)
      if (names[i] == names[k])
        throw ConfigError(tree.location_of("tasks.names").describe() + ": [tasks] names lists '" + names[i] +
                          "' twice; each task is named once");
  auto weights = tasks.get_float_list("loss_weights");
  if (!weights.empty() && weights.size() != names.size())
    throw ConfigError(tree.location_of("tasks.loss_weights").describe() + ": [tasks] loss_weights has " +
                      std::to_string(weights.size()) + " values but names has " + std::to_string(names.size()));

  // 4. Components and their option tables.
  auto choose = [&](ComponentKind kind, const std::string& selector_key, const std::string& table_prefix) {
    auto [section, key] = split_key(selector_key);
    std::string name = x.host.at(section).get_string(key);
    auto& c = registry.get(kind, name, tree.location_of(selector_key).describe() + ": " + selector_key);
    ComponentChoice choice;
    choice.name = name;
    choice.options = check_section(tree, table_prefix + "." + name, c.info.schema, to_string(kind) + " '" + name + "'");
    return choice;
  };
  x.backbone = choose(ComponentKind::Backbone, "model.backbone", "backbone");
  x.head = choose(ComponentKind::Head, "model.head", "head");

  // Other component tables present in the file are checked too (a typo there must not pass silently).
  for (auto& section : tree.sections()) {
    auto [parent, leaf] = split_key(section);
    if (parent == "backbone" && leaf != x.backbone.name)
      x.other_tables[section] = check_section(tree, section, registry.get(ComponentKind::Backbone, leaf).info.schema,
                                              "backbone '" + leaf + "'");
    if (parent == "head" && leaf != x.head.name)
      x.other_tables[section] =
          check_section(tree, section, registry.get(ComponentKind::Head, leaf).info.schema, "head '" + leaf + "'");
  }

  // 5. Datasets: [data.source] / [data.target] hold `dataset` plus that dataset's options.
  auto dataset_table = [&](const ConfigTree& t, const std::string& section) {
    std::set<std::string> dataset_keys;
    for (auto& [key, e] : t.section(section))
      if (key != "dataset") dataset_keys.insert(key);
    auto role_options = check_section(t, section, data_role_schema(), "", dataset_keys);
    std::string name = role_options.get_string("dataset");
    auto& c = registry.get(ComponentKind::Dataset, name, t.location_of(section + ".dataset").describe() + ": [" + section + "] dataset");
    ComponentChoice choice;
    choice.name = name;
    choice.options = check_section(t, section, c.info.schema, "dataset '" + name + "'", {"dataset"});
    return choice;
  };
  x.source = dataset_table(tree, "data.source");
  x.target = dataset_table(tree, "data.target");
  x.domains = target_domains(tree, x.host["ttt"], dataset_table);

  // 6. Methods: defaults for every registered one, the file's tables on top. The resolved config lists
  //    the ones the experiment uses and the ones the file configures.
  const std::string method = x.host["ttt"].get_string("method");
  registry.get(ComponentKind::Method, method, tree.location_of("ttt.method").describe() + ": ttt.method");
  x.listed_methods.insert(method);
  for (auto& m : x.host["compare"].get_string_list("methods")) {
    registry.get(ComponentKind::Method, m, tree.location_of("compare.methods").describe() + ": compare.methods");
    x.listed_methods.insert(m);
  }
  for (auto* c : registry.of_kind(ComponentKind::Method))
    x.methods[c->info.name] =
        check_section(tree, "method." + c->info.name, c->info.schema, "method '" + c->info.name + "'");
  return x;
}

}  // namespace s4t::host
