#include "config/target_domains.hpp"

#include <set>

#include "s4t/error.hpp"
#include "util/closest_match.hpp"
#include "util/error_text.hpp"

namespace s4t::host {

namespace {


bool all_digits(const std::string& s) {
  if (s.empty()) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

// The dataset table of domain `name` as a tree of its own: [data.target]'s keys (unless the domain names
// another dataset), then the domain's.
ConfigTree domain_tree(const ConfigTree& tree, const std::string& name, const SourceLocation& listed_at) {
  const std::string section = "domain." + name;
  ConfigTree t;
  auto target_dataset = [&] {
    auto* e = tree.find("data.target.dataset");
    return e ? to_string(e->value) : std::string("\"synthetic\"");
  };
  auto* own_dataset = tree.find(section + ".dataset");
  const bool same_dataset = !own_dataset || to_string(own_dataset->value) == target_dataset();
  if (same_dataset)
    for (auto& [key, entry] : tree.section("data.target")) t.set(section + "." + key, *entry);
  if (tree.sections().count(section)) {
    for (auto& [key, entry] : tree.section(section)) t.set(section + "." + key, *entry);
    return t;
  }
  // "<corruption>[:<severity>]"
  const auto colon = name.find(':');
  const std::string corruption = name.substr(0, colon);
  if (corruption.empty())
    throw ConfigError(listed_at.describe() + ": [ttt] domains: '" + name + "' names no corruption; expected "
                      "\"<corruption>[:<severity>]\" or the name of a [domain.<name>] table");
  t.set(section + ".corruption", {Value(corruption), listed_at});
  if (colon != std::string::npos) {
    const std::string severity = name.substr(colon + 1);
    if (!all_digits(severity) || severity.size() > 3)
      throw ConfigError(listed_at.describe() + ": [ttt] domains: '" + name + "': the severity after ':' must be a whole "
                        "number (e.g. \"fog:3\"), got '" + severity + "'");
    t.set(section + ".severity", {Value(static_cast<std::int64_t>(std::stoi(severity))), listed_at});
  }
  return t;
}

}  // namespace

std::vector<TargetDomain> target_domains(const ConfigTree& tree, const Options& ttt, const DatasetTableCheck& check) {
  const std::string stream = ttt.get_string("stream");
  const std::string reset = ttt.get_string("reset");
  const auto& names = ttt.get_string_list("domains");
  const SourceLocation listed_at = tree.location_of("ttt.domains");
  const std::string domains_at = listed_at.describe();

  std::set<std::string> listed_names(names.begin(), names.end());
  for (auto& section : tree.sections())
    if (section.rfind("domain.", 0) == 0 && !listed_names.count(section.substr(7)))
      throw ConfigError(tree.table_location(section).describe() + ": [" + section + "] is not a domain of [ttt] domains (" +
                        (names.empty() ? std::string("empty") : join(names)) + "); list it there or remove the table");

  if (stream == "single") {
    if (!names.empty())
      throw ConfigError(domains_at + ": [ttt] domains is read by stream = \"continual\", \"gradual\" or \"mixed\"; "
                        "stream is \"single\", which adapts on [data.target] alone");
    return {};
  }
  const std::string what = "[ttt] stream = \"" + stream + "\"";
  if (names.empty())
    throw ConfigError(tree.location_of("ttt.stream").describe() + ": " + what + " needs [ttt] domains: the target domains in order, "
                      "e.g. domains = [\"gaussian_noise:5\", \"fog:5\"]");
  if (ttt.get_string("protocol") == "single_batch_then_eval")
    throw ConfigError(tree.location_of("ttt.protocol").describe() + ": " + what + " adapts batch after batch; protocol = "
                      "\"single_batch_then_eval\" adapts on one batch only: use episodic or online (or [ttt] reset)");
  if (ttt.get_string("select") == "validation")
    throw ConfigError(tree.location_of("ttt.select").describe() + ": " + what + ": select = \"validation\" is not available over a "
                      "stream (which domain would the split come from?): use last, step:N or oracle");
  if (stream == "mixed" && reset == "per_domain")
    throw ConfigError(tree.location_of("ttt.reset").describe() + ": " + what + " shuffles the domains together, so there is no new "
                      "domain to reset at: use reset = never or per_batch");
  std::set<std::string> seen;
  std::vector<TargetDomain> out;
  for (auto& name : names) {
    if (name.empty() || name.find('.') != std::string::npos || name.find(' ') != std::string::npos)
      throw ConfigError(domains_at + ": [ttt] domains: '" + name + "' is not a domain name (no dots or spaces; "
                        "\"<corruption>[:<severity>]\" or a [domain.<name>] table)");
    if (!seen.insert(name).second && stream == "mixed")
      throw ConfigError(domains_at + ": [ttt] domains lists '" + name + "' twice; a mixed stream shuffles each domain's "
                        "images in once");
    TargetDomain d;
    d.name = name;
    try {
      d.data = check(domain_tree(tree, name, listed_at), "domain." + name);
    } catch (const ConfigError& e) {
      throw ConfigError("[ttt] domains: domain '" + name + "': " + error_text(e));
    }
    if (stream == "gradual" &&
        (!d.data.options.has("corruption") || d.data.options.get_string("corruption") == "none"))
      throw ConfigError(domains_at + ": " + what + " walks each domain's corruption through severities "
                        "1,2,3,4,5,4,3,2,1; domain '" + name + "' has no corruption (dataset '" + d.data.name + "')");
    out.push_back(std::move(d));
  }
  return out;
}

}  // namespace s4t::host
