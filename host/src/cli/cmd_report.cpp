// `s4t report RUN_DIR...`: tables (Markdown, CSV, LaTeX; mean ± std over seeds), synchronisation
// measures, and figures (per-task curves with the best step, affinity heatmaps, sweeps) via gnuplot.
// `s4t sweep CONFIG --key K --values a,b,...`: one comparison per value of any config key.
#include <cmath>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "cli/arguments.hpp"
#include "cli/commands.hpp"
#include "cli/comparison.hpp"
#include "cli/results_table.hpp"
#include "report/gnuplot_figures.hpp"
#include "report/run_collection.hpp"
#include "run/run_directory.hpp"
#include "s4t/error.hpp"
#include "s4t/log.hpp"
#include "s4t/state_dict.hpp"
#include <spdlog/spdlog.h>

namespace fs = std::filesystem;

namespace s4t::host {

namespace {
std::string fixed(double v, int digits) {
  std::ostringstream o;
  o << std::fixed << std::setprecision(digits) << v;
  return o.str();
}

/// Markdown and CSV of SV / DTW / CS per method (signed relative gain, mean ± std over seeds).
std::pair<std::string, std::string> synchronization_tables(const RunCollection& runs) {
  std::string md = "| Method | SV ↓ | DTW ↓ | CS ↑ | seeds |\n|---|---:|---:|---:|---:|\n";
  std::string csv = "method,sv,sv_std,dtw,dtw_std,cs,cs_std,seeds\n";
  for (auto& m : runs.methods) {
    if (m == "none") continue;
    std::vector<double> sv, dtw, cs;
    for (auto& t : runs.runs.at(m)) {
      auto s = t.synchronization();
      if (s.is_null() || !s.contains("relative_gain")) continue;
      sv.push_back(s["relative_gain"]["step_variance"]);
      dtw.push_back(s["relative_gain"]["dtw"]);
      cs.push_back(s["relative_gain"]["cosine_similarity"]);
    }
    if (sv.empty()) continue;
    double a, as, b, bs, c, cs_;
    mean_std(sv, a, as);
    mean_std(dtw, b, bs);
    mean_std(cs, c, cs_);
    auto pm = [&](double x, double s) { return fixed(x, 3) + (sv.size() > 1 ? " ± " + fixed(s, 3) : ""); };
    md += "| " + m + " | " + pm(a, as) + " | " + pm(b, bs) + " | " + pm(c, cs_) + " | " + std::to_string(sv.size()) + " |\n";
    csv += m + "," + std::to_string(a) + "," + std::to_string(as) + "," + std::to_string(b) + "," + std::to_string(bs) +
           "," + std::to_string(c) + "," + std::to_string(cs_) + "," + std::to_string(sv.size()) + "\n";
  }
  return {md, csv};
}
}  // namespace

int cmd_report(const std::vector<std::string>& args) {
  CommonArgs common;
  std::vector<std::string> dirs;
  std::string out;
  bool no_figures = false;
  po::options_description options("s4t report options");
  add_common_options(options, common);
  options.add_options()
      ("out", po::value<std::string>(&out), "output folder (default <first RUN_DIR>/report)")
      ("no-figures", po::bool_switch(&no_figures), "tables only (no gnuplot)")
      ("runs", po::value<std::vector<std::string>>(&dirs), "run directories");
  po::positional_options_description positional;
  positional.add("runs", -1);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(args).options(options).positional(positional).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    throw ConfigError(std::string(e.what()) + "\nusage: s4t report RUN_DIR... [--out DIR]");
  }
  if (vm.count("help") || dirs.empty()) {
    std::cout << "usage: s4t report RUN_DIR... [--out DIR] [--no-figures]\n\n" << options << "\n";
    return dirs.empty() && !vm.count("help") ? 2 : 0;
  }
  std::vector<fs::path> paths(dirs.begin(), dirs.end());
  fs::path out_dir = out.empty() ? paths.front() / "report" : fs::path(out);
  auto runs = collect_runs(paths);
  std::vector<fs::path> files;
  std::ostringstream summary;
  if (!runs.runs.empty()) {
    auto table = build_results_table(runs.methods, runs.runs);
    auto [sync_md, sync_csv] = synchronization_tables(runs);
    write_file_atomically(out_dir / "results.md", table.markdown());
    write_file_atomically(out_dir / "results.csv", table.csv());
    write_file_atomically(out_dir / "results.tex", table.latex());
    write_file_atomically(out_dir / "synchronization.md", sync_md);
    write_file_atomically(out_dir / "synchronization.csv", sync_csv);
    for (auto f : {"results.md", "results.csv", "results.tex", "synchronization.md", "synchronization.csv"})
      files.push_back(out_dir / f);
    summary << table.markdown() << "\nSynchronisation of the task curves (signed relative gain, steps ≥ 1):\n\n" << sync_md;
  }
  if (!no_figures) {
    for (auto& f : plot_curves(runs, out_dir)) files.push_back(f);
    for (auto& f : plot_affinity(runs, out_dir)) files.push_back(f);
    for (auto& f : plot_sweeps(runs, out_dir)) files.push_back(f);
  }
  std::cout << summary.str() << "\nwritten:\n";
  for (auto& f : files) std::cout << "  " << f.string() << "\n";
  return 0;
}

int cmd_sweep(const std::vector<std::string>& args) {
  CommonArgs common;
  std::string config, key, values_text, methods_text, seeds_text;
  po::options_description options("s4t sweep options");
  add_common_options(options, common);
  options.add_options()
      ("key", po::value<std::string>(&key), "config key to sweep, e.g. method.s4t.mask_ratio or data.target.noise_alpha")
      ("values", po::value<std::string>(&values_text), "comma-separated values (TOML literals)")
      ("methods", po::value<std::string>(&methods_text), "methods (default [compare] methods)")
      ("seeds", po::value<std::string>(&seeds_text), "seeds (default [compare] seeds)");
  const std::string usage = "s4t sweep CONFIG --key section.key --values a,b,... [--methods ...] [--seeds ...]";
  if (!parse_arguments(usage, options, args, &config, common)) return 0;
  if (key.empty() || values_text.empty()) throw ConfigError("--key and --values are required\nusage: " + usage);
  auto values = split_list(values_text);
  auto base_ctx = open_experiment(config, common);
  const auto& bx = *base_ctx.experiment;
  const std::string name = bx.section("run").get_string("name");
  auto methods = methods_text.empty() ? bx.section("compare").get_string_list("methods") : split_list(methods_text);
  std::vector<std::int64_t> seeds;
  if (seeds_text.empty()) seeds = bx.section("compare").get_int_list("seeds");
  else
    for (auto& s : split_list(seeds_text)) seeds.push_back(std::stoll(s));

  nlohmann::json sweep;
  sweep["key"] = key;
  sweep["config"] = config;
  std::string table = "| " + key + " |";
  for (auto& m : methods)
    if (m != "none") table += " Δ_TTT " + m + " |";
  table += "\n|---|" + std::string(methods.size(), '-') + "\n";
  for (auto& value : values) {
    CommonArgs point_args = common;
    point_args.sets.push_back(key + "=" + value);
    std::string safe = value;
    for (auto& c : safe)
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-') c = '_';
    point_args.sets.push_back("run.name=\"" + name + "/sweep-" + key + "-" + safe + "\"");
    auto ctx = open_experiment(config, point_args);
    logger()->info("##### sweep {} = {} #####", key, value);
    auto result = run_comparison(*ctx.experiment, ctx.registry, methods, seeds, common.command_line);
    nlohmann::json point;
    point["value"] = value;
    point["dir"] = result.dir.string();
    table += "| " + value + " |";
    for (auto& row : result.table.rows) {
      if (row.name == "Base") continue;
      nlohmann::json r{{"delta_ttt", row.delta_mean}, {"delta_ttt_std", row.delta_std}, {"best_step", row.best_step_mean},
                       {"per_task", row.mean}};
      std::vector<double> first_losses;
      for (auto& t : result.runs.at(row.name))
        if (!t.loss.empty() && std::isfinite(t.loss.front())) first_losses.push_back(t.loss.front());
      if (!first_losses.empty()) {
        double m, sd;
        mean_std(first_losses, m, sd);
        r["first_step_loss"] = m;
      }
      point["methods"][row.name] = r;
      table += " " + fixed(row.delta_mean, 2) + " |";
    }
    table += "\n";
    sweep["points"].push_back(point);
  }
  fs::path dir = fs::path(bx.section("run").get_string("output_dir")) / name;
  write_json(dir / "sweep.json", sweep);
  write_file_atomically(dir / "sweep.md", table);
  std::cout << "\n" << table << "\nsweep: " << (dir / "sweep.json").string() << "  (figure: s4t report " << dir.string()
            << ")\n";
  return 0;
}

}  // namespace s4t::host
