#include "engine/trainer.hpp"

#include <ATen/ops/stack.h>
#include <torch/nn/module.h>
#include <torch/optim/optimizer.h>
#include <torch/utils.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <csignal>
#include <cmath>
#include <fstream>

#include "distributed/gradient_sync.hpp"
#include "distributed/replica_state.hpp"
#include "engine/checkpoint.hpp"
#include "engine/compute_mode.hpp"
#include "engine/interrupt.hpp"
#include "engine/optimizers.hpp"
#include "engine/plugin_call.hpp"
#include "engine/setup.hpp"
#include "engine/source_objective.hpp"
#include "run/progress.hpp"
#include "s4t/error.hpp"
#include "run/logging.hpp"
#include "s4t/collectives.hpp"
#include "s4t/losses.hpp"
#include "s4t/state_dict.hpp"

namespace fs = std::filesystem;

namespace s4t::host {

namespace {

struct TrainLogRow {
  std::int64_t iteration;
  double lr, total;
  std::map<std::string, double> tasks;
};

void write_train_log(const fs::path& path, const std::vector<TrainLogRow>& rows) {
  if (rows.empty()) return;
  std::string text = "iteration,lr,total";
  for (auto& [t, v] : rows.front().tasks) text += "," + t;
  text += "\n";
  for (auto& r : rows) {
    text += std::to_string(r.iteration) + "," + std::to_string(r.lr) + "," + std::to_string(r.total);
    for (auto& [t, v] : r.tasks) text += "," + std::to_string(v);
    text += "\n";
  }
  write_file_atomically(path, text);
}

// The rows a resumed run continues (write_train_log's format: "iteration,lr,total,<task>..." with the
// run's tasks in name order). Absent or empty: none. Anything else that is not that format is refused,
// naming the line: a resumed log silently missing rows would not be the log of the run.
std::vector<TrainLogRow> read_train_log(const fs::path& path, const std::vector<TaskSpec>& tasks) {
  std::vector<TrainLogRow> rows;
  std::error_code ec;
  if (!fs::exists(path, ec)) return rows;
  std::ifstream in(path);
  if (!in) throw Error("--resume: cannot read '" + path.string() + "'");
  auto split = [](const std::string& s) {
    std::vector<std::string> out;
    size_t start = 0;
    for (size_t c; (c = s.find(',', start)) != std::string::npos; start = c + 1) out.push_back(s.substr(start, c - start));
    out.push_back(s.substr(start));
    return out;
  };
  std::vector<std::string> names;
  for (auto& t : tasks) names.push_back(t.name);
  std::sort(names.begin(), names.end());
  std::string expected = "iteration,lr,total";
  for (auto& n : names) expected += "," + n;
  const std::string hint = "; fix or remove it and resume again (without it the log restarts at the checkpoint)";
  std::string line;
  auto next_line = [&] {  // a line, without the '\r' an editor may have added
    if (!std::getline(in, line)) return false;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    return true;
  };
  if (!next_line()) return rows;  // empty
  if (line != expected)
    throw Error("--resume: '" + path.string() + "' line 1 is '" + line + "'; expected the header '" + expected + "'" + hint);
  for (std::int64_t number = 2; next_line(); ++number) {
    const auto cells = split(line);
    const std::string where = "--resume: '" + path.string() + "' line " + std::to_string(number);
    if (cells.size() != 3 + names.size())
      throw Error(where + " has " + std::to_string(cells.size()) + " values; expected " + std::to_string(3 + names.size()) +
                  " (" + expected + ")" + hint);
    std::int64_t iteration = 0;
    std::vector<double> values;  // lr, total, the tasks
    for (size_t i = 0; i < cells.size(); ++i) {
      const char* text = cells[i].c_str();
      char* end = nullptr;
      errno = 0;
      bool good = !cells[i].empty();
      if (i == 0) {
        iteration = std::strtoll(text, &end, 10);
        good = good && *end == '\0' && errno != ERANGE && iteration >= 1;
      } else {
        values.push_back(std::strtod(text, &end));
        good = good && *end == '\0' && errno != ERANGE && std::isfinite(values.back());
      }
      if (!good)
        throw Error(where + ": " + (i < 3 ? std::string(i == 0 ? "iteration" : i == 1 ? "lr" : "total") : names[i - 3]) +
                    " is '" + cells[i] + "'; expected " + (i == 0 ? "a whole number of at least 1" : "a finite number") + hint);
    }
    TrainLogRow r{iteration, values[0], values[1], {}};
    if (!rows.empty() && r.iteration <= rows.back().iteration)
      throw Error(where + ": iteration " + std::to_string(r.iteration) + " follows iteration " +
                  std::to_string(rows.back().iteration) + "; expected increasing iterations" + hint);
    for (size_t i = 0; i < names.size(); ++i) r.tasks[names[i]] = values[2 + i];
    rows.push_back(r);
  }
  return rows;
}

// Temporary files of writes that a killed run never renamed ("<name>.tmp-<n>").
void remove_temporaries(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return;
  for (auto& entry : fs::directory_iterator(dir, ec))
    if (entry.path().filename().string().find(".tmp-") != std::string::npos) {
      logger()->info("removing {} left by an interrupted run", entry.path().string());
      fs::remove(entry.path(), ec);
    }
}

// Distributed training switches synchronised BatchNorm on ([train] sync_batchnorm) for its duration.
class SyncBatchNormScope {
 public:
  explicit SyncBatchNormScope(bool on) : on_(on) {
    if (on_) s4t::set_sync_batch_norm(true);
  }
  ~SyncBatchNormScope() {
    if (on_) s4t::set_sync_batch_norm(false);
  }

 private:
  bool on_;
};

// Post-training runs on every rank over the whole source stream with the collectives hidden, exactly as
// in one process (a method's statistics need no reduction then); rank 0's result is broadcast after.
class HiddenCollectivesScope {
 public:
  HiddenCollectivesScope() : saved_(s4t::collectives()) { s4t::set_collectives(nullptr); }
  ~HiddenCollectivesScope() { s4t::set_collectives(saved_); }

 private:
  std::shared_ptr<s4t::Collectives> saved_;
};

// Every rank's mean of `sums` (the open log window): sum over ranks / world size.
void average_over_ranks(DistributedGroup* group, std::vector<at::Tensor*> sums) {
  if (!group) return;
  std::vector<at::Tensor> values;
  for (auto* t : sums) values.push_back(t->defined() ? t->detach().to(at::kDouble).reshape({1}) : at::zeros({1}, at::kDouble));
  auto flat = at::cat(values).cpu().contiguous();
  std::vector<at::Tensor> one{flat};
  group->all_reduce_sum(one);
  flat.div_(group->world_size());
  for (size_t i = 0; i < sums.size(); ++i)
    if (sums[i]->defined()) *sums[i] = flat[static_cast<std::int64_t>(i)].to(sums[i]->scalar_type()).to(sums[i]->device());
}

const char* kSharedRunDirHint =
    "every rank must see the same run directory: on several machines put [run] output_dir on a shared file system";

fs::path train_from_scratch(const Experiment& x, const ComponentRegistry& registry, const fs::path& dir,
                            const std::string& method_name, const TrainRequest& request) {
  auto& train = x.section("train");
  const std::int64_t iterations = train.get_int("iterations");
  const std::int64_t seed = x.section("run").get_int("seed");
  fs::path ckpt = dir / "checkpoint.pt";
  auto group = distributed_group();  // joined by ensure_source_checkpoint; null in one process
  const bool primary = !group || group->rank() == 0;
  if (primary) remove_temporaries(dir);
  if (fs::exists(ckpt) && !request.resume && !request.force)
    throw Error("a partial source checkpoint exists at '" + ckpt.string() +
                "'; pass --resume to continue it or --force to start over");

  torch::manual_seed(static_cast<std::uint64_t>(seed));
  auto source = make_dataset(x, registry, "source");
  auto target = make_dataset(x, registry, "target");
  auto tasks = resolve_tasks(x, *source, target.get());
  auto size = source->image_size();
  if (size[0] <= 0) throw ConfigError("the source dataset has no fixed image size; configure its resize option");
  auto built = build_model(x, registry, tasks, size, method_name);
  auto& model = *built.model;
  auto counts = model.parameter_counts();
  logger()->info("model: {} parameters (backbone {}, heads {}, method {})", counts["total"], counts["backbone"],
                 counts["heads"], counts["method"]);

  std::vector<at::Tensor> params;
  for (auto& p : model.root().parameters(true)) params.push_back(p);
  OptimizerSpec spec;
  spec.name = train.get_string("optimizer");
  spec.lr = train.get_float("lr");
  spec.weight_decay = train.get_float("weight_decay");
  spec.momentum = spec.name == "sgd" ? train.get_float("momentum") : 0.0;
  auto optimizer = make_optimizer(spec, params);

  std::int64_t start = 0;
  std::vector<TrainLogRow> log_rows;
  at::Tensor loss_sum;  // the open log interval: sums since the last log row
  std::map<std::string, at::Tensor> task_sums;
  std::int64_t in_window = 0;
  if (request.resume && !request.force && fs::exists(ckpt)) {
    auto meta = load_checkpoint(ckpt, model.root(), optimizer.get());
    start = meta.values.at("iteration");
    if (start > iterations)
      throw ConfigError("--resume: the checkpoint " + ckpt.string() + " is at iteration " + std::to_string(start) +
                        ", past [train] iterations = " + std::to_string(iterations) +
                        "; raise iterations to at least " + std::to_string(start) + " or start over with --force");
    log_rows = read_train_log(dir / "train_log.csv", tasks);
    in_window = meta.values.count("window") ? meta.values.at("window") : 0;
    for (auto& [k, v] : meta.tensors) {
      if (k == "window.total") loss_sum = v.to(run_device(x));
      else if (k.rfind("window.task.", 0) == 0) task_sums[k.substr(12)] = v.to(run_device(x));
    }
    while (!log_rows.empty() && log_rows.back().iteration > start) log_rows.pop_back();
    logger()->info("resuming source training from iteration {} of {} ({})", start, iterations, ckpt.string());
  } else if (request.resume && !request.force) {
    logger()->warn("--resume: no checkpoint of source training [{}] at {}; starting from iteration 0", method_name,
                   ckpt.string());
  }

  if (group) {
    // Same start everywhere, and rank 0's weights (and optimizer position) on every replica.
    agree(*group, start, "the iteration source training [" + method_name + "] starts from", kSharedRunDirHint);
    broadcast_module_state(*group, model.root(), true, true);
  }
  // [train] batch is the global batch: W ranks each read batch / W samples of their shard of every epoch
  // (rank r takes positions r, r+W, ...), so a step sees the same samples as one process does.
  const std::int64_t global_batch = train.get_int("batch");
  const std::int64_t world = group ? group->world_size() : 1;
  if (global_batch % world != 0)
    throw ConfigError("[train] batch = " + std::to_string(global_batch) + " is the global batch and must split evenly over the " +
                      std::to_string(world) + " ranks of this run; use a multiple of " + std::to_string(world));
  auto options = loader_options(x, global_batch / world, train.get_bool("shuffle"), true);
  if (group) {
    options.shard_index = group->rank();
    options.shard_count = group->world_size();
  }
  auto loader = DataLoader(source, options);
  const std::int64_t per_epoch = loader.batches_per_epoch();
  loader.seek(start / per_epoch, start % per_epoch);

  const std::int64_t log_every = train.get_int("log_every"), ckpt_every = train.get_int("checkpoint_every");
  const double base_lr = spec.lr, power = train.get_float("poly_power");
  std::int64_t last_saved = start > 0 ? start : -1;  // iteration of the checkpoint on disk
  std::unique_ptr<GradientSync> sync;
  if (group) {
    std::vector<at::Tensor> trained;
    for (auto& p : params)
      if (p.requires_grad()) trained.push_back(p);
    sync = std::make_unique<GradientSync>(group, trained);
    logger()->info("data-parallel training on {} ranks: {} samples per step ({} per rank), gradients in {} bucket(s)",
                   group->world_size(), global_batch, global_batch / world,
                   sync->bucket_count());
  }
  SyncBatchNormScope sync_bn(group && train.get_bool("sync_batchnorm"));
  auto save = [&](std::int64_t it) {
    if (group) {
      // The window saved is the mean over ranks, so every rank resumes with it; rank 0's buffers everywhere.
      std::vector<at::Tensor*> window{&loss_sum};
      for (auto& [t, v] : task_sums) window.push_back(&v);
      average_over_ranks(group.get(), window);
      broadcast_module_state(*group, model.root(), false, true);
    }
    last_saved = it;
    if (!primary) return;
    // The log first: a kill between the two leaves log rows past the checkpoint, which resume trims.
    write_train_log(dir / "train_log.csv", log_rows);
    CheckpointMeta meta{{{"iteration", it}, {"seed", seed}, {"window", in_window}}, {}};
    if (in_window > 0) {  // the open log interval, so a resumed run writes the same rows
      meta.tensors["window.total"] = loss_sum;
      for (auto& [t, v] : task_sums) meta.tensors["window.task." + t] = v;
    }
    save_checkpoint(ckpt, model.root(), optimizer.get(), meta);
  };
  auto last_good = [&] {
    return last_saved >= 0 ? "The last checkpoint, at iteration " + std::to_string(last_saved) + ", holds finite weights: " +
                                 ckpt.string()
                           : std::string("No checkpoint was written before it.");
  };
  InterruptScope interrupt_scope;

  model.root().train();
  const ComputeMode compute = compute_mode(x);
  Progress progress("source training [" + method_name + "]", iterations, x.section("run").get_bool("progress") && primary, start);
  auto t0 = std::chrono::steady_clock::now();
  Batch batch;
  for (std::int64_t it = start; it < iterations; ++it) {
    const double lr = base_lr * std::pow(std::max(0.0, 1.0 - static_cast<double>(it) / static_cast<double>(iterations)), power);
    set_learning_rate(*optimizer, lr);
    if (!loader.next(batch)) {
      loader.restart();
      loader.next(batch);
    }
    SourceObjective objective;
    {  // [run] precision / memory_format: the forward under autocast, the losses read back in fp32
      AutocastScope autocast(model.device(), compute.bf16);
      batch.images = to_memory_format(batch.images, compute.channels_last);
      objective = source_objective(model, *built.method, batch, built.model_label, built.method_label,
                                   "at iteration " + std::to_string(it + 1));
    }
    const auto& main_losses = objective.main_losses;
    at::Tensor total = as_float(objective.total);
    optimizer->zero_grad();
    if (sync) sync->prepare();
    total.backward();
    // Distributed: the mean gradient over ranks, and whether any rank was asked to stop.
    const bool stop_everywhere = sync ? sync->finish(InterruptScope::requested() != 0) : false;
    optimizer->step();
    if (group) group->set_progress(it + 1);

    auto detached = total.detach();
    loss_sum = loss_sum.defined() ? loss_sum.add(detached) : detached;
    for (auto& t : tasks) {
      auto v = main_losses.at(t.name).detach();
      task_sums[t.name] = task_sums.count(t.name) ? task_sums[t.name].add(v) : v;
    }
    ++in_window;
    const std::int64_t done = it + 1;
    if (done % log_every == 0 || done == iterations) {
      if (group) {
        std::vector<at::Tensor*> window{&loss_sum};
        for (auto& [t, v] : task_sums) window.push_back(&v);
        average_over_ranks(group.get(), window);  // the row is the mean over every rank's batches
      }
      TrainLogRow row{done, lr, loss_sum.item<double>() / static_cast<double>(in_window), {}};
      for (auto& [t, v] : task_sums) row.tasks[t] = v.item<double>() / static_cast<double>(in_window);
      if (!std::isfinite(row.total))
        throw Error("source training [" + method_name + "] diverged by iteration " + std::to_string(done) +
                    ": the mean loss since iteration " + std::to_string(done - in_window) +
                    " is not finite (check [train] lr and the data). " + last_good());
      log_rows.push_back(row);
      std::string tasks_text;
      for (auto& [t, v] : row.tasks) tasks_text += fmt::format(" {}={:.4f}", t, v);
      logger()->debug("iteration {} lr {:.3g} loss {:.4f}{}", done, lr, row.total, tasks_text);
      progress.update(done, fmt::format("loss {:.4f}", row.total));
      loss_sum = at::Tensor();
      task_sums.clear();
      in_window = 0;
    }
    if (ckpt_every > 0 && done % ckpt_every == 0 && done < iterations) save(done);
    int signal = InterruptScope::requested();
    if (group && stop_everywhere && signal == 0) signal = SIGTERM;  // another rank got it: stop at the same step
    if ((group ? stop_everywhere : signal != 0) && done < iterations) {
      if (last_saved != done) save(done);
      progress.finish();
      throw Interrupted(InterruptScope::signal_name(signal) + ": source training [" + method_name + "] stopped after iteration " +
                            std::to_string(done) + " of " + std::to_string(iterations) + "; checkpoint " + ckpt.string() +
                            "; continue with --resume",
                        128 + signal);
    }
  }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  progress.finish();
  sync.reset();  // hooks off: post-training's own backward passes (if any) are not synchronised
  save(iterations);
  if (group) check_replicas(*group, model.root(), "after source training");

  if (registry.method_traits(method_name).post_training) {
    logger()->info("post-training stage of method '{}'", method_name);
    DataLoader stream(source, loader_options(x, train.get_int("batch"), false, true, train.get_int("post_training_batches")));
    model.root().eval();  // documented state for post-training: eval mode, gradients enabled
    {
      HiddenCollectivesScope hidden;
      call_plugin(built.method_label, "after_source_training", {},
                  [&] { built.method->after_source_training(model, stream); });
    }
    if (group) broadcast_module_state(*group, model.root(), true, true);
    if (primary) save_checkpoint(ckpt, model.root(), optimizer.get(), {{{"iteration", iterations}, {"seed", seed}}});
  }

  nlohmann::json summary;
  summary["method"] = method_name;
  summary["iterations"] = iterations;
  summary["resumed_from"] = start;
  summary["seconds"] = seconds;
  summary["step_ms"] = iterations > start ? seconds * 1000.0 / static_cast<double>(iterations - start) : 0.0;
  summary["data_wait_seconds"] = loader.wait_seconds();
  summary["parameters"] = counts;
  if (!log_rows.empty()) {
    summary["first_loss"] = log_rows.front().total;
    summary["last_loss"] = log_rows.back().total;
  }
  summary["checkpoint"] = ckpt.string();
  summary["world_size"] = group ? group->world_size() : 1;
  summary["samples_per_step"] = train.get_int("batch");
  summary["images_per_second"] = seconds > 0 ? static_cast<double>((iterations - start) * summary["samples_per_step"].get<std::int64_t>()) / seconds : 0.0;
  if (group) summary["replicas_identical"] = true;  // check_replicas above threw otherwise
  if (primary) write_json(dir / "done.json", summary);
  logger()->info("source training [{}] finished: {} iterations in {} ({:.1f} ms/step), loss {:.4f} -> {:.4f}",
                 method_name, iterations, format_duration(seconds), summary["step_ms"].get<double>(),
                 summary.value("first_loss", 0.0), summary.value("last_loss", 0.0));
  return ckpt;
}

fs::path post_train_from_base(const Experiment& x, const ComponentRegistry& registry, const fs::path& base_ckpt,
                              const fs::path& dir, const std::string& method_name) {
  auto& train = x.section("train");
  torch::manual_seed(static_cast<std::uint64_t>(x.section("run").get_int("seed")));
  auto source = make_dataset(x, registry, "source");
  auto target = make_dataset(x, registry, "target");
  auto tasks = resolve_tasks(x, *source, target.get());
  auto built = build_model(x, registry, tasks, source->image_size(), method_name);
  load_checkpoint(base_ckpt, built.model->root(), nullptr, "method.");
  logger()->info("post-training stage of method '{}' on the base checkpoint", method_name);
  auto t0 = std::chrono::steady_clock::now();
  DataLoader stream(source, loader_options(x, train.get_int("batch"), false, true, train.get_int("post_training_batches")));
  built.model->root().eval();
  {
    HiddenCollectivesScope hidden;  // every rank computes it on the whole stream, as one process would
    call_plugin(built.method_label, "after_source_training", {},
                [&] { built.method->after_source_training(*built.model, stream); });
  }
  auto group = distributed_group();
  if (group) broadcast_module_state(*group, built.model->root(), true, true);
  fs::path ckpt = dir / "checkpoint.pt";
  if (group && group->rank() != 0) return ckpt;
  save_checkpoint(ckpt, built.model->root(), nullptr, {{{"iteration", train.get_int("iterations")}}});
  nlohmann::json summary;
  summary["method"] = method_name;
  summary["from"] = base_ckpt.string();
  summary["seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  summary["checkpoint"] = ckpt.string();
  write_json(dir / "done.json", summary);
  return ckpt;
}

}  // namespace

fs::path finished_checkpoint(const RunDirectory& run, const std::string& key) {
  fs::path dir = run.source_dir(key);
  return fs::exists(dir / "done.json") && fs::exists(dir / "checkpoint.pt") ? dir / "checkpoint.pt" : fs::path();
}

namespace {

fs::path ensure_checkpoint(const Experiment& x, const ComponentRegistry& registry, const RunDirectory& run,
                           const std::string& method_name, const TrainRequest& request) {
  const MethodTraits traits = registry.method_traits(method_name);
  const std::string key = registry.source_key(method_name);
  fs::path dir = run.source_dir(key);
  auto group = distributed_group();
  const bool primary = !group || group->rank() == 0;
  // 0 = use the finished checkpoint, 1 = extend it, 2 = train / post-train: every rank decides the same.
  int decision = 2;
  fs::path done;
  std::int64_t trained = 0;
  if (!request.force)
    if (done = finished_checkpoint(run, key); !done.empty()) {
      trained = read_json(dir / "done.json").value("iterations", std::int64_t{0});
      const auto wanted = x.section("train").get_int("iterations");
      decision = request.resume && trained < wanted && key == (traits.source_objective ? method_name : "base") ? 1 : 0;
    }
  if (group)  // also a barrier: nobody changes the folder below before every rank has looked at it
    agree(*group, decision, "whether source training of '" + key + "' is needed (0 = finished, 1 = extend, 2 = train)",
          kSharedRunDirHint);
  if (decision == 0) {
    logger()->info("source checkpoint for '{}' exists: {}", method_name, done.string());
    return done;
  }
  if (primary) {
    if (decision == 1) {  // --resume with more [train] iterations than were run: continue the finished checkpoint.
      logger()->info("extending source training of '{}' from {} to {} iterations", key, trained,
                     x.section("train").get_int("iterations"));
      fs::remove(dir / "done.json");
    }
    fs::create_directories(dir);
    if (request.force) fs::remove(dir / "done.json");
  }
  if (group) group->barrier("preparing " + dir.string());
  if (key == "base") return train_from_scratch(x, registry, dir, "none", request);
  if (traits.source_objective) return train_from_scratch(x, registry, dir, method_name, request);
  TrainRequest base_request = request;
  base_request.force = false;
  fs::path base = ensure_checkpoint(x, registry, run, "none", base_request);
  return post_train_from_base(x, registry, base, dir, method_name);
}

}  // namespace

fs::path ensure_source_checkpoint(const Experiment& x, const ComponentRegistry& registry, const RunDirectory& run,
                                  const std::string& method_name, const TrainRequest& request) {
  auto group = join_distributed_run(x);
  if (!group) return ensure_checkpoint(x, registry, run, method_name, request);
  // One device per local rank: [run] device = "cuda" means cuda:LOCAL_RANK.
  Experiment local = x;
  if (x.section("run").get_string("device") == "cuda")
    local.set("run.device", std::string("cuda:") + std::to_string(group->environment().local_rank), "distributed run (LOCAL_RANK)");
  try {
    auto ckpt = ensure_checkpoint(local, registry, run, method_name, request);
    group->barrier("the end of source training");  // rank 0's files are complete before anyone goes on
    return ckpt;
  } catch (const CollectiveError&) {
    throw;  // the others see the same fault themselves
  } catch (const std::exception& e) {
    group->announce_failure(e.what());
    throw;
  }
}

}  // namespace s4t::host
