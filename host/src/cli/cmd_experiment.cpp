// `s4t train | adapt | eval | info CONFIG`: one experiment, one step of its life.
#include <torch/nn/module.h>

#include <iomanip>
#include <iostream>

#include "cli/arguments.hpp"
#include "cli/commands.hpp"
#include "distributed/launch_environment.hpp"
#include "engine/adapter.hpp"
#include "engine/setup.hpp"
#include "engine/trainer.hpp"
#include "report/results_table.hpp"
#include "report/stream_table.hpp"
#include "run/run_directory.hpp"
#include "s4t/error.hpp"
#include "study/adaptation_record.hpp"
#include "study/comparison.hpp"
#include "study/corruption_sweep.hpp"
#include "util/closest_match.hpp"

namespace fs = std::filesystem;

namespace s4t::host {

namespace {
// A --checkpoint the user names is checked before any plugin, dataset or model is loaded.
void check_checkpoint_option(const std::string& checkpoint) {
  if (checkpoint.empty()) return;
  std::error_code ec;
  if (!fs::exists(checkpoint, ec)) throw ConfigError("--checkpoint '" + checkpoint + "' does not exist");
  if (fs::is_directory(checkpoint, ec))
    throw ConfigError("--checkpoint '" + checkpoint + "' is a folder; expected a checkpoint file (e.g. <run>/source/<method>/checkpoint.pt)");
  if (!fs::is_regular_file(checkpoint, ec)) throw ConfigError("--checkpoint '" + checkpoint + "' is not a regular file");
}
}  // namespace

int cmd_train(const std::vector<std::string>& args) {
  CommonArgs common;
  TrainRequest request;
  std::string config, method;
  po::options_description options("s4t train options");
  add_common_options(options, common);
  options.add_options()
      ("resume", po::bool_switch(&request.resume), "continue the partial checkpoint of this run")
      ("force", po::bool_switch(&request.force), "train again even if a finished checkpoint exists")
      ("method", po::value<std::string>(&method), "train the source model this method needs (default [ttt] method)");
  if (!parse_arguments("s4t train CONFIG [--resume] [--force] [--method NAME] [--set k=v]...", options, args, &config, common)) return 0;
  auto ctx = open_experiment(config, common);
  auto& x = *ctx.experiment;
  if (method.empty()) method = x.section("ttt").get_string("method");
  x.method_options(method);  // an unknown --method is a config error before the run directory exists
  RunDirectory run(x, ctx.registry, common.command_line);
  auto ckpt = ensure_source_checkpoint(x, ctx.registry, run, method, request);
  std::cout << "source checkpoint: " << ckpt.string() << "\n";
  return 0;
}

int cmd_adapt(const std::vector<std::string>& args) {
  CommonArgs common;
  std::string config, method, checkpoint;
  po::options_description options("s4t adapt options");
  add_common_options(options, common);
  options.add_options()
      ("method", po::value<std::string>(&method), "method (default [ttt] method)")
      ("checkpoint", po::value<std::string>(&checkpoint), "source checkpoint (default: the run's own for this method)");
  if (!parse_arguments("s4t adapt CONFIG [--method NAME] [--checkpoint FILE] [--set k=v]...", options, args, &config, common)) return 0;
  check_checkpoint_option(checkpoint);
  auto ctx = open_experiment(config, common);
  auto& x = *ctx.experiment;
  if (method.empty()) method = x.section("ttt").get_string("method");
  x.method_options(method);
  step_selection(x);  // a bad [ttt] select is a config error before the run directory exists
  RunDirectory run(x, ctx.registry, common.command_line);
  if (checkpoint.empty()) checkpoint = x.section("ttt").get_string("checkpoint");
  auto tr = record_adaptation(run, method, [&] {
    fs::path ckpt = checkpoint;
    if (ckpt.empty()) {
      ckpt = finished_checkpoint(run, ctx.registry.source_key(method));
      if (ckpt.empty())
        throw Error("no finished source checkpoint for method '" + method + "' in " + run.path().string() +
                    "; run `s4t train " + config +
                    (method == x.section("ttt").get_string("method") ? "" : " --method " + method) +
                    "` first, or pass --checkpoint FILE");
    }
    return adapt(x, ctx.registry, method, ckpt);
  });
  if (!is_primary_process()) return 0;  // distributed: rank 0 prints the one table
  fs::path dir = run.adapt_dir(method);
  // The single-method table compares against the method's own step 0.
  auto table = build_results_table({method}, {{method, {tr}}}, {}, "step0");
  table.rows.front().name = "step 0";
  std::cout << "\n" << table.markdown() << "\n";
  if (tr.stream.active()) {  // the domains of the stream, against this run's own step 0 on each
    auto stream = build_stream_table({method}, {{method, {tr}}});
    std::cout << stream.markdown() << "\n";
  }
  std::cout << "reported step " << tr.steps[tr.selected] << " (select = " << tr.selection << "), oracle step "
            << tr.steps[tr.best] << ", last step " << tr.steps.back() << "; " << tr.images << " target images evaluated";
  if (!tr.validation_delta.empty())
    std::cout << "; step chosen on a validation split of " << tr.validation_images
              << " other target images (validation Δ_TTT " << fixed_digits(tr.validation_delta[tr.selected], 2) << "%)";
  std::cout << "\nmetrics: " << (dir / "metrics.json").string() << ", " << (dir / "trajectory.csv").string() << "\n";
  return 0;
}

int cmd_eval(const std::vector<std::string>& args) {
  CommonArgs common;
  std::string config, checkpoint, role = "target";
  po::options_description options("s4t eval options");
  add_common_options(options, common);
  options.add_options()
      ("checkpoint", po::value<std::string>(&checkpoint), "checkpoint to evaluate (default: the run's source checkpoint for [ttt] method)")
      ("on", po::value<std::string>(&role), "source or target set");
  if (!parse_arguments("s4t eval CONFIG [--checkpoint FILE] [--on source|target] [--set k=v]...", options, args, &config, common)) return 0;
  if (role != "source" && role != "target") throw ConfigError("--on must be source or target, got '" + role + "'");
  check_checkpoint_option(checkpoint);
  auto ctx = open_experiment(config, common);
  auto& x = *ctx.experiment;
  fs::path ckpt = checkpoint;
  if (ckpt.empty()) {
    RunDirectory run(x, ctx.registry, common.command_line);
    ckpt = finished_checkpoint(run, ctx.registry.source_key(x.section("ttt").get_string("method")));
    if (ckpt.empty()) throw Error("no finished source checkpoint in " + run.path().string() + "; run `s4t train " + config + "` first");
  }
  auto results = evaluate(x, ctx.registry, ckpt, role);
  std::cout << "checkpoint " << ckpt.string() << " on the " << role << " set:\n";
  for (auto& [task, value] : results)
    std::cout << "  " << std::left << std::setw(10) << task.name << std::setw(6) << task.metric_label()
              << std::fixed << std::setprecision(4) << value << (task.higher_is_better ? "  (higher is better)" : "  (lower is better)") << "\n";
  return 0;
}

int cmd_info(const std::vector<std::string>& args) {
  CommonArgs common;
  std::string config, method;
  std::int64_t classes = 0;
  po::options_description options("s4t info options");
  add_common_options(options, common);
  options.add_options()
      ("method", po::value<std::string>(&method), "method (default [ttt] method)")
      ("classes", po::value<std::int64_t>(&classes), "count with this many semseg classes instead of the dataset's "
                                                       "(e.g. 7 for the paper's Taskonomy->NYUD-v2 label space)");
  if (!parse_arguments("s4t info CONFIG [--method NAME] [--classes K] [--set k=v]...", options, args, &config, common)) return 0;
  auto ctx = open_experiment(config, common);
  auto& x = *ctx.experiment;
  if (method.empty()) method = x.section("ttt").get_string("method");
  auto source = make_dataset(x, ctx.registry, "source");
  auto target = make_dataset(x, ctx.registry, "target");
  auto tasks = resolve_tasks(x, *source, target.get());
  if (classes > 0)
    for (auto& t : tasks)
      if (t.kind == TaskKind::Classification) {
        t.channels = classes;
        t.class_names.clear();
        for (std::int64_t k = 0; k < classes; ++k) t.class_names.push_back("class" + std::to_string(k));
      }
  auto built = build_model(x, ctx.registry, tasks, source->image_size(), method);
  // Groups: backbone, heads.<task>, method.<first-level module>.
  std::map<std::string, std::int64_t> groups;
  std::int64_t total = 0;
  for (auto& p : built.model->root().named_parameters(true)) {
    const std::string& name = p.key();
    auto first = name.find('.');
    std::string group = name.substr(0, first);
    if (group != "backbone") {
      auto second = name.find('.', first + 1);
      group = name.substr(0, second);
    }
    groups[group] += p.value().numel();
    total += p.value().numel();
  }
  std::int64_t base = 0;
  for (auto& [g, n] : groups)
    if (g.rfind("method", 0) != 0) base += n;
  std::cout << "model: backbone '" << x.backbone.name << "', head '" << x.head.name << "', method '" << method
            << "', tasks";
  for (auto& t : tasks) std::cout << " " << t.name << "(" << t.channels << ")";
  std::cout << ", train size " << source->image_size()[0] << "x" << source->image_size()[1];
  if (const auto size = test_time_size(x, *source, *target); size != source->image_size())  // built for another size
    std::cout << ", test-time size " << size[0] << "x" << size[1] << " ([ttt] grid / grid_size)";
  std::cout << "\n\n";
  for (auto& [g, n] : groups) std::cout << "  " << std::left << std::setw(28) << g << std::right << std::setw(14) << n << "\n";
  std::cout << "  " << std::left << std::setw(28) << "base network" << std::right << std::setw(14) << base << "\n";
  std::cout << "  " << std::left << std::setw(28) << "method modules" << std::right << std::setw(14) << total - base << "\n";
  std::cout << "  " << std::left << std::setw(28) << "total" << std::right << std::setw(14) << total << "  ("
            << std::fixed << std::setprecision(2) << static_cast<double>(total) / 1e6 << "M)\n";
  return 0;
}

int cmd_compare(const std::vector<std::string>& args) {
  CommonArgs common;
  std::string config, methods_text, seeds_text, corruptions_text, severities_text;
  po::options_description options("s4t compare options");
  add_common_options(options, common);
  options.add_options()
      ("methods", po::value<std::string>(&methods_text), "comma-separated methods (default [compare] methods)")
      ("seeds", po::value<std::string>(&seeds_text), "comma-separated seeds (default [compare] seeds)")
      ("corruptions", po::value<std::string>(&corruptions_text),
       "one comparison per target corruption: all (the 15 ImageNet-C ones) or name,name,... (docs/corruptions.md)")
      ("severities", po::value<std::string>(&severities_text),
       "with --corruptions: comma-separated severities 1..5 (default [data.target] severity)");
  if (!parse_arguments("s4t compare CONFIG [--methods a,b,...] [--seeds 0,1,...] [--corruptions all|a,b,... "
                       "[--severities 1,...]] [--set k=v]...", options, args, &config, common)) return 0;
  auto methods = split_list(methods_text);
  auto seeds = split_int_list(seeds_text, "--seeds");
  if (!severities_text.empty() && corruptions_text.empty())
    throw ConfigError("--severities needs --corruptions (all or name,name,...)");
  const auto severities = split_int_list(severities_text, "--severities");
  const auto corruptions = corruptions_text.empty() ? std::vector<std::string>{} : expand_corruptions(corruptions_text);
  auto ctx = open_experiment(config, common);
  if (!corruptions.empty()) {
    auto sweep = run_corruption_sweep(*ctx.config, ctx.registry, corruptions, severities, methods, seeds, config,
                                      common.command_line);
    std::cout << "\n" << sweep.table << "\nsummary: " << (sweep.dir / "corruptions.md").string()
              << " (each severity's sweep.json beside its comparisons)\n";
    return sweep.any_failed ? 1 : 0;
  }
  auto result = run_comparison(*ctx.experiment, ctx.registry, methods, seeds, common.command_line);
  std::cout << "\n" << result.table.markdown() << "\n";
  if (!result.stream.empty()) std::cout << result.stream.markdown() << "\n";
  std::cout << result.seeds.size() << " seed(s).\nresults: " << (result.dir / "results.md").string()
            << (result.stream.empty() ? "" : ", " + (result.dir / "stream.md").string())
            << "  (figures: s4t report " << result.dir.string() << ")\n";
  if (result.failures.empty()) return 0;
  std::vector<std::string> failed;
  for (auto& [method, error] : result.failures) failed.push_back(method);
  std::cout << "failed: " << join(failed) << " (adapt/<method>/failed.json in each seed's run directory)\n";
  return 1;
}

}  // namespace s4t::host
