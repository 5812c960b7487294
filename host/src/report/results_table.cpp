#include "report/results_table.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "s4t/error.hpp"
#include "evaluation/metrics.hpp"

namespace s4t::host {

void mean_std(const std::vector<double>& v, double& mean, double& sd) {
  mean = 0.0;
  for (double x : v) mean += x;
  mean /= static_cast<double>(v.size());
  double var = 0.0;
  for (double x : v) var += (x - mean) * (x - mean);
  sd = v.size() > 1 ? std::sqrt(var / static_cast<double>(v.size() - 1)) : 0.0;
}

std::string fixed_digits(double v, int digits) {
  std::ostringstream out;
  out.setf(std::ios::fixed);
  out.precision(digits);
  out << v;
  return out.str();
}

namespace {
int digits_for(const TaskSpec& t) { return t.metric == MetricKind::MeanIoU || t.metric == MetricKind::AngularError ? 2 : 4; }

std::string first_line(const std::string& message) { return message.substr(0, message.find('\n')); }
/// "tent — failed: <first line of the message>"
std::string failed_label(const ResultRow& r) { return r.name + " — failed: " + first_line(r.failure); }

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) s.replace(at, from.size(), to);
  return s;
}
}  // namespace

ResultsTable build_results_table(const std::vector<std::string>& methods,
                                 const std::map<std::string, std::vector<Trajectory>>& runs,
                                 const std::map<std::string, std::string>& failures, const std::string& base_mode) {
  ResultsTable table;
  if (methods.empty()) throw Error("no methods to tabulate");
  if (base_mode != "shared" && base_mode != "step0")
    throw ConfigError("[compare] base = \"" + base_mode + "\": expected \"shared\" or \"step0\"");
  table.base = base_mode;
  const bool own_base = base_mode == "step0";
  auto failed = [&](const std::string& m) { return failures.count(m) != 0; };
  auto failure_row = [&](const std::string& name, const std::string& m) {
    ResultRow row;
    row.name = name;
    row.failure = failures.at(m);
    table.rows.push_back(row);
  };
  // Base: "none", else the first method that has results.
  std::string base_method;
  if (runs.count("none") && !failed("none")) base_method = "none";
  for (auto& m : methods)
    if (base_method.empty() && runs.count(m) && !failed(m)) base_method = m;
  if (base_method.empty()) {  // nothing succeeded
    for (auto& m : methods)
      if (failed(m)) failure_row(m == "none" ? "Base" : m, m);
    return table;
  }
  const auto& first = runs.at(base_method);
  table.tasks = first.front().tasks;
  const size_t seeds = first.size();
  const auto higher = higher_is_better(table.tasks);
  std::vector<std::vector<double>> base(seeds);
  for (size_t s = 0; s < seeds; ++s) base[s] = first[s].values.front();

  // The selection rules of the tabulated methods: one names the table's reported step.
  std::vector<std::string> rules;
  for (auto& m : methods)
    if (m != "none" && runs.count(m) && !failed(m))
      for (auto& tr : runs.at(m))
        if (std::find(rules.begin(), rules.end(), tr.selection) == rules.end()) rules.push_back(tr.selection);
  if (rules.empty()) table.selection = first.front().selection;
  else if (rules.size() == 1) table.selection = rules.front();
  else {
    table.selection = "mixed:";
    for (size_t i = 0; i < rules.size(); ++i) table.selection += (i ? ", " : " ") + rules[i];
  }

  struct Column {
    std::vector<double> delta, step;
  };
  auto add_row = [&](const std::string& name, const std::vector<std::vector<double>>& per_seed_values,
                     const Column& selected, const Column& oracle, const std::vector<double>& last) {
    ResultRow row;
    row.name = name;
    row.seeds = per_seed_values.size();
    for (size_t t = 0; t < table.tasks.size(); ++t) {
      std::vector<double> column;
      for (auto& v : per_seed_values) column.push_back(v[t]);
      double m, sd;
      mean_std(column, m, sd);
      row.mean.push_back(m);
      row.stddev.push_back(sd);
    }
    double sd;
    mean_std(selected.delta, row.delta_mean, row.delta_std);
    mean_std(selected.step, row.step_mean, sd);
    mean_std(oracle.delta, row.oracle_delta_mean, row.oracle_delta_std);
    mean_std(oracle.step, row.oracle_step_mean, sd);
    mean_std(last, row.last_delta_mean, row.last_delta_std);
    table.rows.push_back(row);
  };
  if (failed("none")) failure_row("Base", "none");
  else {
    const Column zero{std::vector<double>(seeds, 0.0), std::vector<double>(seeds, 0.0)};
    add_row("Base", base, zero, zero, std::vector<double>(seeds, 0.0));
  }
  for (auto& m : methods) {
    if (m == "none") continue;
    if (failed(m)) {
      failure_row(m, m);
      continue;
    }
    auto& trs = runs.at(m);
    if (trs.size() > seeds) throw Error("method '" + m + "' has more runs than the Base (" + base_method + ")");
    std::vector<std::vector<double>> values;
    Column selected, oracle;
    std::vector<double> last;
    for (size_t s = 0; s < trs.size(); ++s) {
      auto& tr = trs[s];
      const auto& reference = own_base ? tr.values.front() : base[s];
      std::vector<double> delta;
      for (auto& v : tr.values) delta.push_back(delta_ttt(reference, v, higher));
      // The oracle is the best step against the Base the table uses; the other rules do not look.
      const size_t best = best_step_index(delta);
      const size_t chosen = tr.selection == "oracle" ? best : tr.selected;
      values.push_back(tr.values[chosen]);
      selected.delta.push_back(delta[chosen]);
      selected.step.push_back(static_cast<double>(tr.steps[chosen]));
      oracle.delta.push_back(delta[best]);
      oracle.step.push_back(static_cast<double>(tr.steps[best]));
      last.push_back(delta.back());
    }
    add_row(m, values, selected, oracle, last);
  }
  return table;
}

std::string ResultsTable::caption() const {
  const std::string base_text =
      base == "step0" ? "Δ_TTT of each method against its own step 0 (its model before adaptation, as the released code reports)"
                      : "Δ_TTT against the Base row (the shared un-adapted source model)";
  return "Per-task metrics and Δ_TTT at the step [ttt] select = \"" + selection + "\" chooses" +
         "; oracle = best step on the evaluated labels (the paper's Table 4 protocol, not available at test time); "
         "last = the final step; " + base_text + ".";
}

namespace {
std::string signed_fixed(double v, int digits) { return (v >= 0 ? "+" : "") + fixed_digits(v, digits); }
}  // namespace

std::string ResultsTable::markdown() const {
  std::ostringstream out;
  out << caption() << "\n\n| Method |";
  for (auto& t : tasks) out << " " << t.name << " " << t.metric_label() << (t.higher_is_better ? " ↑" : " ↓") << " |";
  out << " Δ_TTT (%) ↑ | step | Δ_TTT oracle (%) | oracle step | Δ_TTT last (%) |\n|---|";
  for (size_t i = 0; i < tasks.size(); ++i) out << "---:|";
  out << "---:|---:|---:|---:|---:|\n";
  for (size_t i = 0; i < rows.size(); ++i) {
    const auto& r = rows[i];
    if (!r.failure.empty()) {
      out << "| " << replace_all(failed_label(r), "|", "\\|") << " |";
      for (size_t t = 0; t < tasks.size() + 5; ++t) out << " – |";
      out << "\n";
      continue;
    }
    auto pm = [&](double m, double sd, int digits) {
      return signed_fixed(m, digits) + (r.seeds > 1 ? " ± " + fixed_digits(sd, digits) : "");
    };
    auto step = [&](double v) { return i == 0 ? std::string("–") : fixed_digits(v, r.seeds > 1 ? 1 : 0); };
    out << "| " << r.name << " |";
    for (size_t t = 0; t < tasks.size(); ++t) {
      out << " " << fixed_digits(r.mean[t], digits_for(tasks[t]));
      if (r.seeds > 1) out << " ± " << fixed_digits(r.stddev[t], digits_for(tasks[t]));
      out << " |";
    }
    out << " " << pm(r.delta_mean, r.delta_std, 2) << " | " << step(r.step_mean) << " | "
        << pm(r.oracle_delta_mean, r.oracle_delta_std, 2) << " | " << step(r.oracle_step_mean) << " | "
        << pm(r.last_delta_mean, r.last_delta_std, 2) << " |\n";
  }
  return out.str();
}

std::string ResultsTable::latex() const {
  std::ostringstream out;
  auto escape = [](std::string s) {
    std::string o;
    for (char c : s) {
      if (c == '_' || c == '%' || c == '&' || c == '#' || c == '$' || c == '{' || c == '}') o += std::string("\\") + c;
      else if (c == '\\') o += "\\textbackslash{}";
      else if (c == '~' || c == '^') o += std::string("\\") + c + "{}";
      else o += c;
    }
    return o;
  };
  out << "% " << caption() << "\n";
  out << "\\begin{tabular}{l" << std::string(tasks.size() + 5, 'r') << "}\n\\toprule\nMethod";
  for (auto& t : tasks)
    out << " & " << t.name << " " << t.metric_label() << (t.higher_is_better ? " $\\uparrow$" : " $\\downarrow$");
  out << " & $\\Delta_{TTT}$ (\\%) $\\uparrow$ & step & $\\Delta_{TTT}$ oracle (\\%) & oracle step & $\\Delta_{TTT}$ last (\\%) "
         "\\\\\n\\midrule\n";
  for (size_t i = 0; i < rows.size(); ++i) {
    const auto& r = rows[i];
    if (!r.failure.empty()) {
      out << escape(r.name) << " --- failed: " << escape(first_line(r.failure));
      for (size_t t = 0; t < tasks.size() + 5; ++t) out << " & --";
      out << " \\\\\n";
      continue;
    }
    auto pm = [&](double m, double sd, int digits) {
      return signed_fixed(m, digits) + (r.seeds > 1 ? " $\\pm$ " + fixed_digits(sd, digits) : "");
    };
    auto step = [&](double v) { return i == 0 ? std::string("--") : fixed_digits(v, r.seeds > 1 ? 1 : 0); };
    out << escape(r.name);
    for (size_t t = 0; t < tasks.size(); ++t) {
      out << " & " << fixed_digits(r.mean[t], digits_for(tasks[t]));
      if (r.seeds > 1) out << " $\\pm$ " << fixed_digits(r.stddev[t], digits_for(tasks[t]));
    }
    out << " & " << pm(r.delta_mean, r.delta_std, 2) << " & " << step(r.step_mean) << " & "
        << pm(r.oracle_delta_mean, r.oracle_delta_std, 2) << " & " << step(r.oracle_step_mean) << " & "
        << pm(r.last_delta_mean, r.last_delta_std, 2) << " \\\\\n";
  }
  out << "\\bottomrule\n\\end{tabular}\n";
  return out.str();
}

std::string ResultsTable::csv() const {
  std::ostringstream out;
  out << "method";
  for (auto& t : tasks) out << "," << t.name << "_" << t.metric_label() << "," << t.name << "_std";
  out << ",delta_ttt,delta_ttt_std,step,oracle_delta_ttt,oracle_delta_ttt_std,oracle_step,last_delta_ttt,"
         "last_delta_ttt_std,seeds,selection,base\n";
  out.precision(8);
  const std::string tail = ",\"" + replace_all(selection, "\"", "\"\"") + "\"," + base + "\n";
  for (auto& r : rows) {
    if (!r.failure.empty()) {  // the marked name, no values
      out << "\"" << replace_all(failed_label(r), "\"", "\"\"") << "\"" << std::string(2 * tasks.size() + 9, ',') << "0"
          << tail;
      continue;
    }
    out << r.name;
    for (size_t t = 0; t < tasks.size(); ++t) out << "," << r.mean[t] << "," << r.stddev[t];
    out << "," << r.delta_mean << "," << r.delta_std << "," << r.step_mean << "," << r.oracle_delta_mean << ","
        << r.oracle_delta_std << "," << r.oracle_step_mean << "," << r.last_delta_mean << "," << r.last_delta_std << ","
        << r.seeds << tail;
  }
  return out.str();
}

nlohmann::json ResultsTable::json() const {
  nlohmann::json j;
  for (auto& t : tasks) j["tasks"].push_back({{"name", t.name}, {"metric", t.metric_label()}, {"higher_is_better", t.higher_is_better}});
  for (auto& r : rows) {
    if (!r.failure.empty()) j["rows"].push_back({{"method", r.name}, {"failed", r.failure}});
    else
      j["rows"].push_back({{"method", r.name}, {"mean", r.mean}, {"std", r.stddev}, {"delta_ttt", r.delta_mean},
                           {"delta_ttt_std", r.delta_std}, {"step", r.step_mean},
                           {"oracle_delta_ttt", r.oracle_delta_mean}, {"oracle_delta_ttt_std", r.oracle_delta_std},
                           {"oracle_step", r.oracle_step_mean}, {"last_delta_ttt", r.last_delta_mean},
                           {"last_delta_ttt_std", r.last_delta_std}, {"seeds", r.seeds}});
  }
  j["selection"] = selection;
  j["base"] = base;
  j["caption"] = caption();
  return j;
}

}  // namespace s4t::host
