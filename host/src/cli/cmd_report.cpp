// `s4t report RUN_DIR...`: tables (Markdown, CSV, LaTeX; mean ± std over seeds; each run at the step it
// selected, with the oracle and last-step Δ_TTT beside it), synchronisation measures, and figures
// (per-task curves with the reported step, affinity heatmaps, sweeps) via gnuplot.
// `s4t sweep CONFIG --key K --values a,b,...`: one comparison per value of any config key.
#include <iostream>
#include <sstream>

#include "cli/arguments.hpp"
#include "cli/commands.hpp"
#include "report/gnuplot_figures.hpp"
#include "report/results_table.hpp"
#include "report/stream_table.hpp"
#include "report/run_collection.hpp"
#include "report/synchronization_table.hpp"
#include "run/run_directory.hpp"
#include "s4t/error.hpp"
#include "s4t/state_dict.hpp"
#include "study/sweep.hpp"

namespace fs = std::filesystem;

namespace s4t::host {

int cmd_report(const std::vector<std::string>& args) {
  CommonArgs common;
  std::vector<std::string> dirs;
  std::string out, base = "shared";
  bool no_figures = false;
  po::options_description options("s4t report options");
  add_common_options(options, common);
  options.add_options()
      ("out", po::value<std::string>(&out), "output folder (default <first RUN_DIR>/report)")
      ("no-figures", po::bool_switch(&no_figures), "tables only (no gnuplot)")
      ("base", po::value<std::string>(&base), "Δ_TTT against: shared (the `none` runs, default) or step0 (each method's own step 0)")
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
  if (base != "shared" && base != "step0") throw ConfigError("--base '" + base + "': expected shared or step0");
  if (vm.count("help") || dirs.empty()) {
    std::cout << "usage: s4t report RUN_DIR... [--out DIR] [--no-figures] [--base shared|step0]\n\n" << options << "\n";
    return dirs.empty() && !vm.count("help") ? 2 : 0;
  }
  std::vector<fs::path> paths(dirs.begin(), dirs.end());
  fs::path out_dir = out.empty() ? paths.front() / "report" : fs::path(out);
  auto runs = collect_runs(paths);
  std::vector<fs::path> files;
  std::ostringstream summary;
  if (!runs.runs.empty() || !runs.failures.empty()) {
    auto methods = runs.methods;  // then the methods that only failed
    for (auto& [method, error] : runs.failures)
      if (!runs.runs.count(method)) methods.push_back(method);
    auto table = build_results_table(methods, runs.runs, runs.failures, base);
    auto [sync_md, sync_csv] = synchronization_tables(runs);
    write_file_atomically(out_dir / "results.md", table.markdown());
    write_file_atomically(out_dir / "results.csv", table.csv());
    write_file_atomically(out_dir / "results.tex", table.latex());
    write_file_atomically(out_dir / "synchronization.md", sync_md);
    write_file_atomically(out_dir / "synchronization.csv", sync_csv);
    for (auto f : {"results.md", "results.csv", "results.tex", "synchronization.md", "synchronization.csv"})
      files.push_back(out_dir / f);
    summary << table.markdown() << "\nSynchronisation of the task curves (signed relative gain, steps ≥ 1):\n\n" << sync_md;
    auto stream = build_stream_table(methods, runs.runs);
    if (!stream.empty()) {
      write_file_atomically(out_dir / "stream.md", stream.markdown());
      files.push_back(out_dir / "stream.md");
      summary << "\n" << stream.markdown();
    }
  }
  if (!no_figures) {
    for (auto& f : plot_curves(runs, out_dir)) files.push_back(f);
    for (auto& f : plot_affinity(runs, out_dir)) files.push_back(f);
    for (auto& f : plot_sweeps(runs, out_dir)) files.push_back(f);
    for (auto& f : plot_stream(runs, out_dir)) files.push_back(f);
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
  auto methods = split_list(methods_text);
  auto seeds = split_int_list(seeds_text, "--seeds");
  auto ctx = open_experiment(config, common);
  auto result = run_sweep(*ctx.config, ctx.registry, key, values, methods, seeds, config, common.command_line);
  std::cout << "\n" << result.table << "\nsweep: " << (result.dir / "sweep.json").string()
            << "  (figure: s4t report " << result.dir.string() << ")\n";
  return result.any_failed ? 1 : 0;
}

}  // namespace s4t::host
