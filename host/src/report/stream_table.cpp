#include "report/stream_table.hpp"

#include <cmath>
#include <sstream>

#include "evaluation/metrics.hpp"
#include "report/results_table.hpp"

namespace s4t::host {

namespace {

bool same_layout(const StreamResult& a, const StreamResult& b) {
  if (a.kind != b.kind || a.groups.size() != b.groups.size() || a.batches.size() != b.batches.size()) return false;
  for (std::size_t g = 0; g < a.groups.size(); ++g)
    if (a.groups[g].label != b.groups[g].label) return false;
  return true;
}

}  // namespace

StreamTable build_stream_table(const std::vector<std::string>& methods,
                               const std::map<std::string, std::vector<Trajectory>>& runs) {
  StreamTable table;
  const StreamResult* layout = nullptr;
  for (auto& m : methods) {
    auto it = runs.find(m);
    if (it == runs.end()) continue;
    for (auto& tr : it->second)
      if (tr.stream.active()) {
        layout = &tr.stream;
        break;
      }
    if (layout) break;
  }
  if (!layout) return table;
  table.kind = layout->kind;
  table.reset = layout->reset;
  for (auto& g : layout->groups) table.groups.push_back(g.label);
  // The Base run of seed index k: the `none` run of that seed when its stream has the same layout (it
  // never adapts, so its step 0 is the Base everywhere), else nullptr.
  const auto none = runs.find("none");
  auto base_run = [&](std::size_t k) -> const Trajectory* {
    if (none == runs.end() || k >= none->second.size() || !same_layout(none->second[k].stream, *layout)) return nullptr;
    return &none->second[k];
  };
  table.base = base_run(0) ? "none" : "step0";
  const std::size_t groups = table.groups.size();
  table.mean.assign(groups + 1, {});
  table.stddev.assign(groups + 1, {});
  for (auto& b : layout->batches) table.curve_group.push_back(b.group);

  for (auto& m : methods) {
    if (m == "none") continue;
    auto it = runs.find(m);
    if (it == runs.end() || it->second.empty()) continue;
    bool fits = true;
    for (auto& tr : it->second) fits = fits && same_layout(tr.stream, *layout);
    if (!fits) continue;
    const auto& trs = it->second;
    const auto higher = higher_is_better(trs.front().tasks);
    table.methods.push_back(m);
    for (std::size_t g = 0; g <= groups; ++g) {
      std::vector<double> per_seed;
      for (std::size_t k = 0; k < trs.size(); ++k) {
        const auto& tr = trs[k];
        const Trajectory* base = base_run(k);
        if (g == groups) {  // the whole stream, against the Base's whole stream
          per_seed.push_back(delta_ttt(base ? base->values.front() : tr.values.front(), tr.values[tr.selected], higher));
          continue;
        }
        const auto& group = tr.stream.groups[g];
        per_seed.push_back(delta_ttt(base ? base->stream.groups[g].values.front() : group.values.front(),
                                     group.values[tr.selected], higher));
      }
      double mean = 0, sd = 0;
      mean_std(per_seed, mean, sd);
      table.mean[g].push_back(mean);
      table.stddev[g].push_back(sd);
    }
    // The curve: after adaptation vs the Base on the same batch (the `none` run's batch, or this batch's step 0).
    std::vector<double> curve(layout->batches.size(), 0.0);
    for (std::size_t i = 0; i < curve.size(); ++i) {
      double sum = 0;
      for (std::size_t k = 0; k < trs.size(); ++k) {
        const auto& b = trs[k].stream.batches[i];
        const Trajectory* base = base_run(k);
        sum += base ? delta_ttt(base->stream.batches[i].after, b.after, higher) : b.delta;
      }
      curve[i] = sum / static_cast<double>(trs.size());
    }
    table.curve.push_back(std::move(curve));
  }
  return table;
}

std::string StreamTable::markdown() const {
  std::ostringstream out;
  out << "Target stream '" << kind << "' (reset " << reset << "): Δ_TTT (%) per domain at each run's reported step, against "
      << (base == "none" ? "the Base model on the same domain" : "each method's own step 0 on that domain (no Base runs)")
      << "; mean ± std over seeds.\n\n| domain |";
  for (auto& m : methods) out << " " << m << " |";
  out << "\n|---|";
  for (std::size_t i = 0; i < methods.size(); ++i) out << "---|";
  out << "\n";
  for (std::size_t g = 0; g < mean.size(); ++g) {
    out << "| " << (g < groups.size() ? groups[g] : std::string("**whole stream**")) << " |";
    for (std::size_t i = 0; i < methods.size(); ++i)
      out << " " << (mean[g][i] >= 0 ? "+" : "") << fixed_digits(mean[g][i], 2) << " ± " << fixed_digits(stddev[g][i], 2) << " |";
    out << "\n";
  }
  return out.str();
}

nlohmann::json StreamTable::json() const {
  nlohmann::json j;
  j["kind"] = kind;
  j["reset"] = reset;
  j["base"] = base;
  j["methods"] = methods;
  j["domains"] = groups;
  nlohmann::json rows = nlohmann::json::array();
  for (std::size_t g = 0; g < mean.size(); ++g)
    rows.push_back({{"domain", g < groups.size() ? groups[g] : std::string("whole stream")},
                    {"delta_ttt_mean", mean[g]},
                    {"delta_ttt_std", stddev[g]}});
  j["rows"] = rows;
  j["curve"] = curve;
  j["curve_domain"] = curve_group;
  return j;
}

}  // namespace s4t::host
