#include "report/results_table.hpp"

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
                                 const std::map<std::string, std::string>& failures) {
  ResultsTable table;
  if (methods.empty()) throw Error("no methods to tabulate");
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
  std::vector<bool> higher;
  for (auto& t : table.tasks) higher.push_back(t.higher_is_better);
  std::vector<std::vector<double>> base(seeds);
  for (size_t s = 0; s < seeds; ++s) base[s] = first[s].values.front();

  auto add_row = [&](const std::string& name, const std::vector<std::vector<double>>& per_seed_values,
                     const std::vector<double>& deltas, const std::vector<double>& steps) {
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
    mean_std(deltas, row.delta_mean, row.delta_std);
    double sd;
    mean_std(steps, row.best_step_mean, sd);
    table.rows.push_back(row);
  };
  if (failed("none")) failure_row("Base", "none");
  else add_row("Base", base, std::vector<double>(seeds, 0.0), std::vector<double>(seeds, 0.0));
  for (auto& m : methods) {
    if (m == "none") continue;
    if (failed(m)) {
      failure_row(m, m);
      continue;
    }
    auto& trs = runs.at(m);
    if (trs.size() > seeds) throw Error("method '" + m + "' has more runs than the Base (" + base_method + ")");
    std::vector<std::vector<double>> values;
    std::vector<double> deltas, steps;
    for (size_t s = 0; s < trs.size(); ++s) {
      auto& tr = trs[s];
      size_t best = tr.steps.size() > 1 ? 1 : 0;
      double best_delta = delta_ttt(base[s], tr.values[best], higher);
      for (size_t i = best + 1; i < tr.steps.size(); ++i) {
        double d = delta_ttt(base[s], tr.values[i], higher);
        if (d > best_delta) { best_delta = d; best = i; }
      }
      values.push_back(tr.values[best]);
      deltas.push_back(best_delta);
      steps.push_back(static_cast<double>(tr.steps[best]));
    }
    add_row(m, values, deltas, steps);
  }
  return table;
}

std::string ResultsTable::markdown() const {
  std::ostringstream out;
  out << "| Method |";
  for (auto& t : tasks) out << " " << t.name << " " << t.metric_label() << (t.higher_is_better ? " ↑" : " ↓") << " |";
  out << " Δ_TTT (%) ↑ | best step |\n|---|";
  for (size_t i = 0; i < tasks.size(); ++i) out << "---:|";
  out << "---:|---:|\n";
  for (size_t i = 0; i < rows.size(); ++i) {
    const auto& r = rows[i];
    if (!r.failure.empty()) {
      out << "| " << replace_all(failed_label(r), "|", "\\|") << " |";
      for (size_t t = 0; t < tasks.size() + 2; ++t) out << " – |";
      out << "\n";
      continue;
    }
    out << "| " << r.name << " |";
    for (size_t t = 0; t < tasks.size(); ++t) {
      out << " " << fixed_digits(r.mean[t], digits_for(tasks[t]));
      if (r.seeds > 1) out << " ± " << fixed_digits(r.stddev[t], digits_for(tasks[t]));
      out << " |";
    }
    out << " " << (r.delta_mean >= 0 ? "+" : "") << fixed_digits(r.delta_mean, 2);
    if (r.seeds > 1) out << " ± " << fixed_digits(r.delta_std, 2);
    out << " | " << (i == 0 ? std::string("–") : fixed_digits(r.best_step_mean, r.seeds > 1 ? 1 : 0)) << " |\n";
  }
  return out.str();
}

std::string ResultsTable::latex() const {
  std::ostringstream out;
  out << "\\begin{tabular}{l" << std::string(tasks.size() + 2, 'r') << "}\n\\toprule\nMethod";
  for (auto& t : tasks)
    out << " & " << t.name << " " << t.metric_label() << (t.higher_is_better ? " $\\uparrow$" : " $\\downarrow$");
  out << " & $\\Delta_{TTT}$ (\\%) $\\uparrow$ & best step \\\\\n\\midrule\n";
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
  for (size_t i = 0; i < rows.size(); ++i) {
    const auto& r = rows[i];
    if (!r.failure.empty()) {
      out << escape(r.name) << " --- failed: " << escape(first_line(r.failure));
      for (size_t t = 0; t < tasks.size() + 2; ++t) out << " & --";
      out << " \\\\\n";
      continue;
    }
    out << escape(r.name);
    for (size_t t = 0; t < tasks.size(); ++t) {
      out << " & " << fixed_digits(r.mean[t], digits_for(tasks[t]));
      if (r.seeds > 1) out << " $\\pm$ " << fixed_digits(r.stddev[t], digits_for(tasks[t]));
    }
    out << " & " << (r.delta_mean >= 0 ? "+" : "") << fixed_digits(r.delta_mean, 2);
    if (r.seeds > 1) out << " $\\pm$ " << fixed_digits(r.delta_std, 2);
    out << " & " << (i == 0 ? std::string("--") : fixed_digits(r.best_step_mean, r.seeds > 1 ? 1 : 0)) << " \\\\\n";
  }
  out << "\\bottomrule\n\\end{tabular}\n";
  return out.str();
}

std::string ResultsTable::csv() const {
  std::ostringstream out;
  out << "method";
  for (auto& t : tasks) out << "," << t.name << "_" << t.metric_label() << "," << t.name << "_std";
  out << ",delta_ttt,delta_ttt_std,best_step,seeds\n";
  out.precision(8);
  for (auto& r : rows) {
    if (!r.failure.empty()) {  // the marked name, no values
      out << "\"" << replace_all(failed_label(r), "\"", "\"\"") << "\"" << std::string(2 * tasks.size() + 4, ',') << "0\n";
      continue;
    }
    out << r.name;
    for (size_t t = 0; t < tasks.size(); ++t) out << "," << r.mean[t] << "," << r.stddev[t];
    out << "," << r.delta_mean << "," << r.delta_std << "," << r.best_step_mean << "," << r.seeds << "\n";
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
                           {"delta_ttt_std", r.delta_std}, {"best_step", r.best_step_mean}, {"seeds", r.seeds}});
  }
  return j;
}

}  // namespace s4t::host
