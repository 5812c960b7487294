#pragma once
// A TOML experiment flattened to dotted keys, with the file and line each value came from.
// Composition: a file may say `extends = "base.toml"` (relative to itself); its keys override the
// base's. `--set key=value` overrides come last.
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "s4t/options.hpp"

namespace s4t::host {

/// Where a key was written.
struct SourceLocation {
  std::string file;  ///< path as given, or "--set"
  int line = 0;
  int column = 0;
  std::string describe() const;  ///< "file:line:col" or "--set"
};

struct ConfigEntry {
  Value value;
  SourceLocation where;
};

class ConfigTree {
 public:
  /// Loads `path` and everything it extends. Throws ConfigError on syntax errors (file:line:col).
  static ConfigTree load(const std::filesystem::path& path);
  /// Parses TOML text (for tests); `name` is used in messages.
  static ConfigTree parse(const std::string& text, const std::string& name,
                          const std::filesystem::path& base_dir = std::filesystem::current_path());

  /// Applies "section.key=value"; the value is TOML (strings may omit quotes).
  void set_override(const std::string& assignment);
  /// Overlays `other` on this (other wins).
  void merge(const ConfigTree& other);

  bool has(const std::string& key) const { return entries_.count(key) != 0; }
  const ConfigEntry* find(const std::string& key) const;
  /// Where `key` was written; "<default>" (line 0) when the file does not set it.
  SourceLocation location_of(const std::string& key) const;
  void set(const std::string& key, ConfigEntry entry);
  void erase(const std::string& key) { entries_.erase(key); }
  /// Entries whose key is `section.<key>` with no further dot in <key>.
  std::map<std::string, const ConfigEntry*> section(const std::string& section) const;
  /// Every table name that holds at least one value ("ttt", "method.s4t", ...).
  std::set<std::string> sections() const;
  /// Where table `table` was opened (its [header] line); for a table made by --set, its first value.
  SourceLocation table_location(const std::string& table) const;
  const std::map<std::string, ConfigEntry>& entries() const { return entries_; }

  /// Folder of the top-level file (relative paths in the config are resolved from here).
  const std::filesystem::path& base_dir() const { return base_dir_; }
  /// Files read, outermost first.
  const std::vector<std::string>& files() const { return files_; }

  /// TOML text of every entry, grouped by table (what the run directory stores). Numbers print as
  /// written: integers as integers, floats in their shortest round-trip form (0.1, 2e-05).
  std::string to_toml() const;

 private:
  std::map<std::string, ConfigEntry> entries_;
  std::map<std::string, SourceLocation> tables_;  ///< header of every table the files open
  std::filesystem::path base_dir_;
  std::vector<std::string> files_;
};

/// "a.b.c" -> ("a.b", "c")
std::pair<std::string, std::string> split_key(const std::string& dotted);

}  // namespace s4t::host
