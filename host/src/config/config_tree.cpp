#include "config/config_tree.hpp"

#include <toml++/toml.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>
#include <vector>

#include "s4t/error.hpp"

namespace fs = std::filesystem;

namespace s4t::host {

std::string SourceLocation::describe() const {
  if (line <= 0) return file;
  return file + ":" + std::to_string(line) + ":" + std::to_string(column);
}

std::pair<std::string, std::string> split_key(const std::string& dotted) {
  auto dot = dotted.rfind('.');
  if (dot == std::string::npos) return {"", dotted};
  return {dotted.substr(0, dot), dotted.substr(dot + 1)};
}

namespace {

SourceLocation location_of(const toml::node& node, const std::string& file) {
  auto& b = node.source().begin;
  return {file, static_cast<int>(b.line), static_cast<int>(b.column)};
}

Value array_value(const toml::array& array, const std::string& key, const SourceLocation& where) {
  bool all_int = true, all_number = true, all_string = true;
  for (auto& element : array) {
    all_int &= element.is_integer();
    all_number &= element.is_number();
    all_string &= element.is_string();
  }
  if (array.empty()) return std::vector<std::string>{};  // typed later against the schema
  if (all_int) {
    std::vector<std::int64_t> v;
    for (auto& e : array) v.push_back(*e.value<std::int64_t>());
    return v;
  }
  if (all_number) {
    std::vector<double> v;
    for (auto& e : array) v.push_back(*e.value<double>());
    return v;
  }
  if (all_string) {
    std::vector<std::string> v;
    for (auto& e : array) v.push_back(*e.value<std::string>());
    return v;
  }
  throw ConfigError(where.describe() + ": key '" + key +
                    "' holds an array of mixed or nested types; expected a list of numbers or of strings");
}

// Where `key` itself was written (a value's own position can be on a later column; for a table, the
// header's line).
SourceLocation key_location(const toml::key& key, const toml::node& node, const std::string& file) {
  auto& b = key.source().begin;
  return b.line > 0 ? SourceLocation{file, static_cast<int>(b.line), static_cast<int>(b.column)} : location_of(node, file);
}

void flatten(const toml::table& table, const std::string& prefix, const std::string& file,
             std::map<std::string, ConfigEntry>& out, std::map<std::string, SourceLocation>& tables) {
  for (auto& [k, node] : table) {
    std::string key = prefix.empty() ? std::string(k.str()) : prefix + "." + std::string(k.str());
    if (auto* sub = node.as_table()) {
      tables.emplace(key, key_location(k, node, file));
      flatten(*sub, key, file, out, tables);
      continue;
    }
    ConfigEntry e;
    e.where = key_location(k, node, file);
    if (auto* a = node.as_array()) e.value = array_value(*a, key, e.where);
    else if (auto v = node.value_exact<bool>()) e.value = *v;
    else if (auto v = node.value_exact<std::int64_t>()) e.value = *v;
    else if (auto v = node.value_exact<double>()) e.value = *v;
    else if (auto v = node.value_exact<std::string>()) e.value = *v;
    else
      throw ConfigError(e.where.describe() + ": key '" + key +
                        "' holds a date or time; expected a bool, number, string or list");
    out[key] = std::move(e);
  }
}

toml::table parse_text(const std::string& text, const std::string& name) {
  try {
    return toml::parse(text, std::string_view(name));
  } catch (const toml::parse_error& err) {
    auto& b = err.source().begin;
    throw ConfigError(name + ":" + std::to_string(b.line) + ":" + std::to_string(b.column) +
                      ": TOML syntax error: " + std::string(err.description()));
  }
}

ConfigTree load_chain(const fs::path& path, std::vector<fs::path>& stack) {
  fs::path canonical = fs::weakly_canonical(path);
  for (auto& p : stack)
    if (p == canonical) throw ConfigError(path.string() + ": 'extends' forms a cycle");
  if (!fs::exists(path)) {
    throw ConfigError(stack.empty() ? "config file '" + path.string() + "' does not exist"
                                    : stack.back().string() + ": extends '" + path.string() +
                                          "', which does not exist");
  }
  const std::string what = stack.empty() ? "config file '" + path.string() + "'"
                                         : stack.back().string() + ": extends '" + path.string() + "', which";
  std::error_code ec;
  if (fs::is_directory(path, ec)) throw ConfigError(what + " is a folder; expected a TOML file");
  std::ifstream in(path);
  if (!in) throw ConfigError(stack.empty() ? "cannot read config file '" + path.string() + "'" : what + " cannot be read");
  std::stringstream text;
  text << in.rdbuf();
  stack.push_back(canonical);
  ConfigTree own = ConfigTree::parse(text.str(), path.string(), path.parent_path());
  // An experiment of nothing but defaults is almost always the wrong file (or a truncated one): say so
  // rather than train for hours on the demo settings.
  if (own.entries().empty())
    throw ConfigError(path.string() + ": the config file is empty (no keys); an experiment sets at least its "
                      "[tasks] and [data.source] / [data.target] tables (see configs/demo.toml)");
  ConfigTree result;
  if (auto* ext = own.find("extends")) {
    auto* base_name = std::get_if<std::string>(&ext->value);
    if (!base_name) throw ConfigError(ext->where.describe() + ": 'extends' must be a string (a TOML file path)");
    fs::path base_path = path.parent_path() / *base_name;
    result = load_chain(base_path, stack);
    own.erase("extends");
  }
  result.merge(own);
  stack.pop_back();
  return result;
}

}  // namespace

ConfigTree ConfigTree::parse(const std::string& text, const std::string& name, const fs::path& base_dir) {
  ConfigTree tree;
  tree.base_dir_ = base_dir.empty() ? fs::current_path() : base_dir;
  tree.files_.push_back(name);
  flatten(parse_text(text, name), "", name, tree.entries_, tree.tables_);
  return tree;
}

ConfigTree ConfigTree::load(const fs::path& path) {
  std::vector<fs::path> stack;
  ConfigTree tree = load_chain(path, stack);
  tree.base_dir_ = path.parent_path().empty() ? fs::current_path() : fs::absolute(path.parent_path());
  return tree;
}

void ConfigTree::merge(const ConfigTree& other) {
  for (auto& [key, entry] : other.entries_) {
    // A scalar replacing a table (or the reverse) drops what it replaces.
    for (auto it = entries_.begin(); it != entries_.end();) {
      if (it->first.rfind(key + ".", 0) == 0 || key.rfind(it->first + ".", 0) == 0) it = entries_.erase(it);
      else ++it;
    }
    entries_[key] = entry;
  }
  for (auto& [name, where] : other.tables_) tables_[name] = where;
  if (base_dir_.empty()) base_dir_ = other.base_dir_;
  files_.insert(files_.begin(), other.files_.begin(), other.files_.end());
}

void ConfigTree::set_override(const std::string& assignment) {
  auto eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0)
    throw ConfigError("--set '" + assignment + "': expected section.key=value");
  std::string key = assignment.substr(0, eq), value = assignment.substr(eq + 1);
  while (!key.empty() && key.back() == ' ') key.pop_back();
  while (!value.empty() && value.front() == ' ') value.erase(value.begin());
  std::map<std::string, ConfigEntry> parsed;
  std::map<std::string, SourceLocation> tables;
  try {
    flatten(toml::parse("v = " + value, std::string_view("--set")), "", "--set", parsed, tables);
  } catch (const toml::parse_error&) {
    parsed["v"].value = value;  // a bare word is a string
  }
  if (!parsed.count("v"))
    throw ConfigError("--set '" + assignment + "': the value must be a bool, number, string or list");
  ConfigEntry e = parsed.at("v");
  e.where = {"--set " + assignment, 0, 0};
  ConfigTree one;
  one.entries_[key] = e;
  merge(one);
}

SourceLocation ConfigTree::table_location(const std::string& table) const {
  if (auto it = tables_.find(table); it != tables_.end()) return it->second;
  auto entries = section(table);  // a table made by --set has no header: point at its first value
  return entries.empty() ? SourceLocation{"<default>", 0, 0} : entries.begin()->second->where;
}

const ConfigEntry* ConfigTree::find(const std::string& key) const {
  auto it = entries_.find(key);
  return it == entries_.end() ? nullptr : &it->second;
}

SourceLocation ConfigTree::location_of(const std::string& key) const {
  auto* e = find(key);
  return e ? e->where : SourceLocation{"<default>", 0, 0};
}

void ConfigTree::set(const std::string& key, ConfigEntry entry) { entries_[key] = std::move(entry); }

std::map<std::string, const ConfigEntry*> ConfigTree::section(const std::string& section) const {
  std::map<std::string, const ConfigEntry*> out;
  for (auto& [key, entry] : entries_) {
    auto [sec, name] = split_key(key);
    if (sec == section) out[name] = &entry;
  }
  return out;
}

std::set<std::string> ConfigTree::sections() const {
  std::set<std::string> out;
  for (auto& [key, entry] : entries_) out.insert(split_key(key).first);
  return out;
}

namespace {
bool is_bare_key(const std::string& key) {
  return !key.empty() && std::all_of(key.begin(), key.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
  });
}

// A literal string ('...') where the text allows one, as a person would write it; a basic string otherwise.
std::string toml_string(const std::string& s) {
  const bool literal = std::none_of(s.begin(), s.end(), [](char c) {
    return c == '\'' || static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
  });
  return literal ? "'" + s + "'" : to_string(Value(s));
}

std::string toml_value(const Value& value) {
  if (auto* s = std::get_if<std::string>(&value)) return toml_string(*s);
  if (auto* list = std::get_if<std::vector<std::string>>(&value)) {
    std::string out = "[";
    for (size_t i = 0; i < list->size(); ++i) out += (i ? ", " : "") + toml_string((*list)[i]);
    return out + "]";
  }
  return to_string(value);  // numbers: integers as integers, floats shortest round-trip
}

std::string toml_key(const std::string& dotted) {
  std::string out;
  size_t start = 0;
  while (true) {
    size_t dot = dotted.find('.', start);
    std::string part = dotted.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    out += is_bare_key(part) ? part : to_string(Value(part));
    if (dot == std::string::npos) return out;
    out += ".";
    start = dot + 1;
  }
}
}  // namespace

std::string ConfigTree::to_toml() const {
  std::ostringstream out;
  bool first = true;
  for (auto& table : sections()) {
    if (!table.empty()) out << (first ? "" : "\n") << "[" << toml_key(table) << "]\n";
    first = false;
    for (auto& [key, entry] : section(table)) out << toml_key(key) << " = " << toml_value(entry->value) << "\n";
  }
  return out.str();
}

}  // namespace s4t::host
