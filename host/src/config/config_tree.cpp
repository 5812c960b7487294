#include "config/config_tree.hpp"

#include <toml++/toml.h>

#include <algorithm>
#include <cctype>
#include <cstring>
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

// toml++ 3.3 (Debian 12) reaches __builtin_unreachable -- undefined behaviour -- when it asks whether
// some non-ASCII characters (U+00A1..U+0499 among them) are whitespace, which it does wherever a token
// may end: a typo such as `[méthod]`, `x = 1é` or `--set run.name=démo` (found by fuzz/). TOML allows
// non-ASCII text only inside strings and comments, so such text is caught here before toml++ sees it.
// A quote starts a string only where a token starts: toml++ scans a bare value (`12"""é`) up to the
// next delimiter whatever it holds. Returns the 1-based line and column of the first non-ASCII character
// outside strings and comments, or after a backslash in a string (never a valid escape; after a
// line-ending backslash, the first character past the whitespace it trims), or {0, 0}.
std::pair<int, int> misplaced_non_ascii(const std::string& text) {
  enum { Code, Comment, Basic, Literal, MultiBasic, MultiLiteral } state = Code;
  std::vector<char> nest;  // open '[' (arrays) and '{' (inline tables)
  bool value = false;      // after '=' (or in an array): a '.' is part of a bare value, not a key separator
  bool bare = false;       // inside a bare key or value
  int line = 1, column = 0;
  auto at = [&](std::size_t i, const char* s) { return text.compare(i, std::strlen(s), s) == 0; };
  for (std::size_t i = at(0, "\xEF\xBB\xBF") ? 3 : 0; i < text.size(); ++i) {  // a leading BOM is allowed
    const auto c = static_cast<unsigned char>(text[i]);
    if ((c & 0xC0) != 0x80) ++column;  // a character starts here
    if (c == '\n') {
      ++line;
      column = 0;
      bare = false;
      if (nest.empty()) value = false;
      if (state == Comment || state == Basic || state == Literal) state = Code;
      continue;
    }
    switch (state) {
      case Code:
        if (c >= 0x80) return {line, column};
        if (bare) {
          if (c == ' ' || c == '\t' || c == '\r' || c == ',' || c == ']' || c == '}' || c == '#' || c == '=') bare = false;
          else if (c == '.' && !value) bare = false;  // dotted key: a quoted part may follow
          if (bare || c == '.') break;
        }
        if (c == '#') state = Comment;
        else if (at(i, "\"\"\"")) state = MultiBasic, i += 2, column += 2;
        else if (at(i, "'''")) state = MultiLiteral, i += 2, column += 2;
        else if (c == '"') state = Basic;
        else if (c == '\'') state = Literal;
        else if (c == '=') value = true;
        else if (c == '[' && value) nest.push_back('[');
        else if (c == '{') nest.push_back('{'), value = false;
        else if (c == ',' && !nest.empty() && nest.back() == '{') value = false;
        else if ((c == ']' || c == '}') && !nest.empty() && nest.back() == (c == ']' ? '[' : '{')) nest.pop_back(), value = true;
        else if (c != ' ' && c != '\t' && c != '\r' && c != '.' && c != '[' && c != ']' && c != ',' && c != '}') bare = true;
        break;
      case Comment: break;
      case Basic:
      case MultiBasic:
        if (c == '\\' && i + 1 < text.size()) {
          if (static_cast<unsigned char>(text[i + 1]) >= 0x80) return {line, column + 1};
          // A line-ending backslash: toml++ tests the first character after the whitespace it trims.
          std::size_t next = i + 1;
          while (state == MultiBasic && next < text.size() && text[next] != 0 && std::strchr(" \t\r\n", text[next]) != nullptr) ++next;
          if (next > i + 1 && next < text.size() && static_cast<unsigned char>(text[next]) >= 0x80) return {line, column};
          if (text[i + 1] != '\n') ++i, ++column;  // the escaped character cannot end the string
        } else if (state == Basic && c == '"') {
          state = Code;
        } else if (state == MultiBasic && at(i, "\"\"\"")) {
          state = Code, i += 2, column += 2;
        }
        break;
      case Literal:
        if (c == '\'') state = Code;
        break;
      case MultiLiteral:
        if (at(i, "'''")) state = Code, i += 2, column += 2;
        break;
    }
  }
  return {0, 0};
}

toml::table parse_text(const std::string& text, const std::string& name) {
  if (auto [line, column] = misplaced_non_ascii(text); line > 0)
    throw ConfigError(name + ":" + std::to_string(line) + ":" + std::to_string(column) +
                      ": TOML syntax error: a non-ASCII character outside a string or comment, or right after a "
                      "backslash (keys with such characters are quoted: \"clé\" = 1)");
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
  if (misplaced_non_ascii(value).first > 0) {
    parsed["v"].value = value;  // not TOML (and unsafe for toml++, see misplaced_non_ascii): a bare word
  } else {
    try {
      flatten(toml::parse("v = " + value, std::string_view("--set")), "", "--set", parsed, tables);
    } catch (const toml::parse_error&) {
      parsed["v"].value = value;  // a bare word is a string
    }
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
