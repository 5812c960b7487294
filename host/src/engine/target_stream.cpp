#include "engine/target_stream.hpp"

#include "engine/mixed_domains.hpp"
#include "engine/setup.hpp"
#include "s4t/error.hpp"
#include "util/error_text.hpp"

namespace s4t::host {

ResetRule reset_rule(const Experiment& x) {
  const auto& ttt = x.section("ttt");
  const std::string reset = ttt.get_string("reset");
  if (reset == "never") return ResetRule::Never;
  if (reset == "per_domain") return ResetRule::PerDomain;
  if (reset == "per_batch") return ResetRule::PerBatch;
  return ttt.get_string("protocol") == "online" ? ResetRule::Never : ResetRule::PerBatch;
}

std::string to_string(ResetRule r) {
  switch (r) {
    case ResetRule::Never: return "never";
    case ResetRule::PerDomain: return "per_domain";
    case ResetRule::PerBatch: return "per_batch";
  }
  return "per_batch";
}

const std::vector<std::int64_t>& gradual_severities() {
  static const std::vector<std::int64_t> s{1, 2, 3, 4, 5, 4, 3, 2, 1};
  return s;
}

TargetStream one_set_stream(const Experiment& x, std::shared_ptr<Dataset> set, const std::string& label) {
  TargetStream stream;
  stream.reset = reset_rule(x);
  stream.domains = {label};
  stream.segments.push_back({label, 0, std::move(set)});
  return stream;
}

TargetStream make_target_stream(const Experiment& x, const ComponentRegistry& registry, std::shared_ptr<Dataset> target,
                                const Dataset& source) {
  const auto& ttt = x.section("ttt");
  if (ttt.get_string("stream") == "single") return one_set_stream(x, std::move(target));
  TargetStream stream;
  stream.kind = ttt.get_string("stream");
  stream.reset = reset_rule(x);
  auto build = [&](const TargetDomain& d, const ComponentChoice& choice) {
    try {
      auto data = make_dataset(x, registry, "target", choice);
      resolve_tasks(x, source, data.get());  // the domain scores the run's tasks
      return data;
    } catch (const ConfigError& e) {
      throw ConfigError("[ttt] domains: domain '" + d.name + "': " + error_text(e));
    }
  };
  std::vector<std::shared_ptr<Dataset>> built;
  for (std::size_t i = 0; i < x.domains.size(); ++i) {
    const auto& d = x.domains[i];
    stream.domains.push_back(d.name);
    if (stream.kind == "gradual") {
      // "fog:5" walks as fog@1 ... fog@5 ... fog@1: the severity in the name is replaced.
      const std::string base_label = d.name.substr(0, d.name.find(':'));
      for (auto severity : gradual_severities()) {
        ComponentChoice at_severity = d.data;
        at_severity.options.set("severity", Value(severity));
        stream.segments.push_back({base_label + "@" + std::to_string(severity), i, build(d, at_severity)});
      }
    } else {
      built.push_back(build(d, d.data));
      if (!stream.mixed()) stream.segments.push_back({d.name, i, built.back()});
    }
  }
  if (stream.mixed())
    stream.segments.push_back(
        {"mixed", 0, std::make_shared<MixedDomains>(built, stream.domains, static_cast<std::uint64_t>(x.section("run").get_int("seed")))});
  return stream;
}

}  // namespace s4t::host
