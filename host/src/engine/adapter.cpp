#include "engine/adapter.hpp"

#include <torch/utils.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <optional>

#include "distributed/sharded_adaptation.hpp"
#include "engine/checkpoint.hpp"
#include "engine/compute_mode.hpp"
#include "engine/dataset_subset.hpp"
#include "engine/mixed_domains.hpp"
#include "engine/setup.hpp"
#include "engine/target_stream.hpp"
#include "engine/task_affinity.hpp"
#include "evaluation/metrics.hpp"
#include "run/logging.hpp"
#include "run/progress.hpp"
#include "s4t/error.hpp"
#include "s4t_host/adaptation_session.hpp"

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace s4t::host {

namespace {

using Accumulators = std::vector<std::unique_ptr<MetricAccumulator>>;  // one per task

Accumulators fresh_accumulators(const std::vector<TaskSpec>& tasks) {
  Accumulators a;
  for (auto& t : tasks) a.push_back(make_metric(t));
  return a;
}

void merge_into(Accumulators& into, const Accumulators& from) {
  for (size_t i = 0; i < into.size(); ++i) into[i]->merge(*from[i]);
}

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// One adaptation run: the host's AdaptationSession plus what the run records around it (metrics,
// per-step test-time loss, the task-affinity analysis).
struct Run {
  std::vector<TaskSpec> tasks;
  BuiltModel built;
  std::shared_ptr<Dataset> source, target;
  std::unique_ptr<AdaptationSession> session;
  bool affinity = false;
  bool recording = true;  // false on the validation split: its losses and latents are not the run's
  std::vector<double> loss_sum;  // per step (1-based step - 1)
  std::vector<std::int64_t> loss_count;
  AffinityAccumulator affinity_source, affinity_before, affinity_after;

  /// Adds the method's task latents of `images` (prediction mode, no grad) to `into`.
  void latents_into(AffinityAccumulator& into, const at::Tensor& images) {
    if (!affinity || !recording) return;
    auto latents = session->latents(images);
    if (latents.empty()) affinity = false;  // the method has none: skip the analysis
    else into.update(latents);
  }

  using Predictions = std::map<std::string, at::Tensor>;

  /// Scores `p` (the predictions for `batch`) into `acc`; `rows`, when defined, selects the images scored.
  void score(Accumulators& acc, const Predictions& p, const Batch& batch, const at::Tensor& rows = {}) const {
    auto pick = [&](const at::Tensor& t) { return rows.defined() && t.defined() ? t.index_select(0, rows.to(t.device())) : t; };
    for (size_t i = 0; i < tasks.size(); ++i) {
      auto& t = tasks[i];
      acc[i]->update(pick(p.at(t.name)), pick(batch.targets.at(t.name)), pick(batch.masks.at(t.name)));
    }
  }

  void predict_into(Accumulators& acc, const Batch& batch) { score(acc, session->predict(batch.images), batch); }

  /// One step; false when the method asks for none (no forward, nothing changes).
  bool step(const Batch& batch, const AdaptContext& ctx) {
    auto outcome = session->step(batch.images, ctx);
    if (!outcome.ran) return false;
    if (!recording) return true;
    if (outcome.deferred) pending_steps.push_back(ctx.step);  // read by flush_steps()
    else record_loss(ctx.step, outcome.loss);
    return true;
  }

  /// Deferred guard (CUDA): reads the steps since the last call with one host sync.
  void flush_steps() {
    if (pending_steps.empty()) return;
    auto records = session->flush();
    for (size_t i = 0; i < records.size() && i < pending_steps.size(); ++i) record_loss(pending_steps[i], records[i].loss);
    pending_steps.clear();
  }

 private:
  std::vector<std::int64_t> pending_steps;

  void record_loss(std::int64_t step, double loss) {
    if (static_cast<std::int64_t>(loss_sum.size()) < step) {
      loss_sum.resize(step, 0.0);
      loss_count.resize(step, 0);
    }
    if (std::isfinite(loss)) {
      loss_sum[step - 1] += loss;
      ++loss_count[step - 1];
    }
  }
};

std::string size_text(std::array<std::int64_t, 2> s) { return std::to_string(s[0]) + "x" + std::to_string(s[1]); }

// `on_source`: the model is built for the source size (evaluation on the source set), else for
// test_time_size().
Run open_run(const Experiment& x, const ComponentRegistry& registry, const std::string& method_name,
             const fs::path& checkpoint, bool with_affinity = true,
             std::optional<NormMode> predict_norm = std::nullopt, bool on_source = false) {
  Run r;
  r.source = make_dataset(x, registry, "source");
  r.target = make_dataset(x, registry, "target");
  r.tasks = resolve_tasks(x, *r.source, r.target.get());
  const auto source_size = r.source->image_size();
  const auto size = on_source ? source_size : test_time_size(x, *r.source, *r.target);
  r.built = build_model(x, registry, r.tasks, size, method_name);
  try {
    load_checkpoint(checkpoint, r.built.model->root(), nullptr);
  } catch (const Error& e) {
    if (size == source_size) throw;
    // A method whose state has the shape of its inputs (ActMAD's C×H×W statistics) cannot move grids.
    throw Error(std::string(e.what()) + "\n([ttt] grid = \"target\" builds the model for the target's " + size_text(size) +
                " images, the checkpoint was trained at " + size_text(source_size) +
                "; a method whose saved state depends on the image size needs grid = \"source\")");
  }
  SessionOptions options;
  options.guard_nonfinite = x.section("ttt").get_bool("skip_nonfinite");
  options.method_label = r.built.method_label;
  options.predict_norm = predict_norm;
  options.model_label = r.built.model_label;
  options.compute = compute_mode(x);
  // On a GPU the guard decides on the device and the host reads once per batch; on the CPU a read costs
  // nothing, so each step is read at once (the same decisions either way).
  options.sync_each_step = !r.built.model->device().is_cuda();
  r.session = std::make_unique<AdaptationSession>(*r.built.model, *r.built.method, options);
  r.affinity = with_affinity && x.section("ttt").get_bool("affinity");
  if (r.affinity) {  // source model on source data: the reference affinity of Fig. 1
    DataLoader source_loader(r.source, loader_options(x, x.section("ttt").get_int("batch"), false, false,
                                                      x.section("ttt").get_int("affinity_batches")));
    Batch b;
    while (r.affinity && source_loader.next(b)) r.latents_into(r.affinity_source, b.images);
  }
  return r;
}

std::vector<std::int64_t> evaluated_steps(std::int64_t steps, std::int64_t every) {
  std::vector<std::int64_t> out{0};
  for (std::int64_t s = every; s < steps; s += every) out.push_back(s);
  if (steps > 0) out.push_back(steps);
  return out;
}

// What one pass of the protocol over a set of target images measured.
struct Pass {
  std::vector<std::vector<double>> values;  // [evaluated step][task]
  std::int64_t batches = 0, images = 0;
  StreamResult stream;                      // a target stream's groups and batches (kind "single": none)
};

std::vector<double> values_of(const Accumulators& acc) {
  std::vector<double> v;
  for (auto& m : acc) v.push_back(m->value());
  return v;
}

// Δ_TTT of every evaluated step against step 0.
std::vector<double> deltas(const std::vector<std::vector<double>>& values, const std::vector<TaskSpec>& tasks) {
  const auto higher = higher_is_better(tasks);
  std::vector<double> out;
  for (auto& v : values) out.push_back(delta_ttt(values[0], v, higher));
  return out;
}

// The metrics of one target stream's result groups (segments, or a mixed stream's domains) at every
// evaluated step, and its per-batch records.
struct StreamTally {
  const TargetStream& stream;
  std::vector<std::vector<Accumulators>> acc;  // [group][evaluated step]
  std::vector<std::int64_t> images, batches;   // per group
  StreamResult result;

  StreamTally(const TargetStream& s, const std::vector<TaskSpec>& tasks, std::size_t steps) : stream(s) {
    acc.resize(s.result_groups());
    for (auto& g : acc)
      for (size_t e = 0; e < steps; ++e) g.push_back(fresh_accumulators(tasks));
    images.assign(s.result_groups(), 0);
    batches.assign(s.result_groups(), 0);
    result.kind = s.kind;
    result.reset = to_string(s.reset);
  }
  bool active() const { return stream.kind != "single"; }
};

// The protocol of [ttt] over `data` from the source weights (`fresh`: the session was never begun, the
// weights are the source's; else they are restored first).
Pass run_protocol(const Experiment& x, Run& s, const TargetStream& stream,
                  const std::vector<std::int64_t>& eval_steps, bool fresh, const std::string& label) {
  const std::shared_ptr<Dataset>& data = stream.segments.front().data;  // single_batch_then_eval: one set
  const auto& ttt = x.section("ttt");
  const std::string protocol = ttt.get_string("protocol");
  const std::int64_t steps = ttt.get_int("steps");
  const bool progress_on = x.section("run").get_bool("progress");
  std::vector<Accumulators> acc;
  for (size_t i = 0; i < eval_steps.size(); ++i) acc.push_back(fresh_accumulators(s.tasks));
  // Distributed: this rank's shard of the set (docs/distributed.md#sharded-adaptation).
  auto shard_loader = [&](const std::shared_ptr<Dataset>& set) {
    return std::make_unique<DataLoader>(set, sharded(loader_options(x, ttt.get_int("batch"), ttt.get_bool("shuffle"),
                                                                    false, ttt.get_int("max_batches"))));
  };
  auto start = [&] {
    if (fresh) s.session->begin();
    else s.session->reset();
  };
  Pass pass;
  if (protocol == "single_batch_then_eval") {
    // Released-code protocol: adapt on the first batch only, evaluate the whole set at each evaluated step.
    auto loader_ptr = shard_loader(data);
    DataLoader& loader = *loader_ptr;
    Batch first;
    // Distributed: every rank adapts on the whole set's first batch (the same weights on every rank) and
    // evaluates its own shard.
    const bool got_first =
        adaptation_group()
            ? DataLoader(data, loader_options(x, ttt.get_int("batch"), ttt.get_bool("shuffle"), false, 1)).next(first)
            : loader.next(first);
    if (!got_first) throw DataError("the target set is empty");
    start();
    s.latents_into(s.affinity_before, first.images);
    auto evaluate_all = [&](Accumulators& into, bool count) {
      loader.restart();
      Batch b;
      while (loader.next(b)) {
        s.predict_into(into, b);
        if (count) pass.images += b.images.size(0);
      }
    };
    evaluate_all(acc[0], true);
    Progress progress(label, steps, progress_on);
    bool noop = false;
    size_t next_eval = 1;
    for (std::int64_t step = 1; step <= steps; ++step) {
      if (!noop) noop = !s.step(first, {step, 0});
      if (next_eval < eval_steps.size() && eval_steps[next_eval] == step) {
        if (noop) merge_into(acc[next_eval], acc[next_eval - 1]);
        else evaluate_all(acc[next_eval], false);
        ++next_eval;
      }
      progress.update(step);
    }
    progress.finish();
    s.flush_steps();
    s.latents_into(s.affinity_after, first.images);
    pass.batches = 1;
  } else {
    // Episodic or online, over the stream's segments (a single stream has one: the target set).
    const ResetRule reset = stream.reset;
    StreamTally tally(stream, s.tasks, eval_steps.size());
    const size_t last = eval_steps.size() - 1;
    std::int64_t b = 0;  // batches over the whole stream
    for (size_t seg = 0; seg < stream.segments.size(); ++seg) {
      const auto& segment = stream.segments[seg];
      auto loader = shard_loader(segment.data);
      Progress progress(stream.segments.size() > 1 ? label + " " + segment.label : label, loader->batches_per_epoch(),
                        progress_on);
      const bool new_domain = seg > 0 && segment.domain != stream.segments[seg - 1].domain;
      Batch batch;
      std::int64_t in_segment = 0;
      while (loader->next(batch)) {
        if (b == 0) start();
        else if (reset == ResetRule::PerBatch || (reset == ResetRule::PerDomain && new_domain && in_segment == 0))
          s.session->reset();  // source weights, fresh optimizer, begin_adaptation
        // Mixed: the rows of each domain present in the batch.
        std::vector<std::pair<size_t, at::Tensor>> rows;
        if (tally.active() && stream.mixed()) {
          const auto& mixed = dynamic_cast<const MixedDomains&>(*segment.data);
          std::map<size_t, std::vector<std::int64_t>> by_domain;
          for (size_t k = 0; k < batch.indices.size(); ++k)
            by_domain[mixed.domain_of(batch.indices[k])].push_back(static_cast<std::int64_t>(k));
          for (auto& [d, r] : by_domain) rows.emplace_back(d, at::tensor(r, at::kLong));
        }
        StreamResult::BatchRecord record;
        record.images = batch.images.size(0);
        if (!rows.empty()) {  // the domain of most of its images (the first on ties)
          size_t most = 0;
          for (size_t i = 1; i < rows.size(); ++i)
            if (rows[i].second.numel() > rows[most].second.numel()) most = i;
          record.group = rows[most].first;
        } else {
          record.group = seg;
        }
        // This batch's metrics at evaluated step e, from predictions `p`, into the pass and the stream tally.
        std::vector<Accumulators> step0_groups;  // the step-0 scores per row group, reused while nothing changes
        Accumulators base;
        auto score_step = [&](size_t e, const Run::Predictions* p) {
          Accumulators here = fresh_accumulators(s.tasks);
          if (p) s.score(here, *p, batch);
          else merge_into(here, base);  // nothing changed since step 0
          merge_into(acc[e], here);
          if (e == 0) {
            base = fresh_accumulators(s.tasks);
            merge_into(base, here);
          }
          if (!tally.active()) return;
          if (rows.empty()) {
            merge_into(tally.acc[seg][e], here);
          } else {
            for (size_t i = 0; i < rows.size(); ++i) {
              Accumulators part = fresh_accumulators(s.tasks);
              if (p) s.score(part, *p, batch, rows[i].second);
              else merge_into(part, step0_groups[i]);
              if (e == 0) {
                step0_groups.push_back(fresh_accumulators(s.tasks));
                merge_into(step0_groups.back(), part);
              }
              merge_into(tally.acc[rows[i].first][e], part);
            }
          }
          if (e == 0) record.before = values_of(here);
          if (e == last) record.after = values_of(here);
        };
        {
          auto p0 = s.session->predict(batch.images);
          score_step(0, &p0);
        }
        pass.images += batch.images.size(0);
        s.latents_into(s.affinity_before, batch.images);
        bool noop = false;
        size_t next_eval = 1;
        for (std::int64_t step = 1; step <= steps; ++step) {
          if (!noop) noop = !s.step(batch, {step, b});
          if (next_eval < eval_steps.size() && eval_steps[next_eval] == step) {
            if (noop) {
              score_step(next_eval, nullptr);
            } else {
              auto p = s.session->predict(batch.images);
              score_step(next_eval, &p);
            }
            ++next_eval;
          }
        }
        s.flush_steps();
        s.latents_into(s.affinity_after, batch.images);
        if (tally.active()) {
          if (rows.empty()) {
            tally.images[seg] += record.images;
            ++tally.batches[seg];
          } else {
            for (auto& [d, r] : rows) {
              tally.images[d] += r.numel();
              ++tally.batches[d];
            }
          }
          tally.result.batches.push_back(std::move(record));
        }
        ++b;
        ++in_segment;
        progress.update(in_segment);
      }
      progress.finish();
    }
    pass.batches = b;
    if (tally.active()) {
      for (size_t g = 0; g < stream.result_groups(); ++g) {
        StreamResult::Group group;
        group.label = stream.group_label(g);
        group.images = tally.images[g];
        group.batches = tally.batches[g];
        for (auto& a : tally.acc[g]) group.values.push_back(values_of(a));
        group.delta = deltas(group.values, s.tasks);
        tally.result.groups.push_back(std::move(group));
      }
      const auto higher = higher_is_better(s.tasks);
      for (auto& r : tally.result.batches) r.delta = delta_ttt(r.before, r.after, higher);
      pass.stream = std::move(tally.result);
    }
  }
  // Distributed: the sums over every rank's shard (each rank adapted on the same first batch in
  // single_batch_then_eval, so its batch count is not summed).
  std::vector<std::int64_t*> counts{&pass.images};
  if (protocol != "single_batch_then_eval") counts.push_back(&pass.batches);
  all_reduce_pass(acc, counts, run_device(x));
  for (auto& a : acc) pass.values.push_back(values_of(a));
  return pass;
}

}  // namespace

StepSelection step_selection(const Experiment& x) {
  const auto& ttt = x.section("ttt");
  auto rule = parse_step_selection(ttt.get_string("select"));
  if (rule.rule == StepSelection::Rule::Step) {
    const auto steps = evaluated_steps(ttt.get_int("steps"), ttt.get_int("eval_every"));
    if (std::find(steps.begin(), steps.end(), rule.step) == steps.end()) {
      std::string listed;
      for (size_t i = 0; i < steps.size() && i < 12; ++i) listed += (i ? ", " : "") + std::to_string(steps[i]);
      if (steps.size() > 12) listed += ", ..., " + std::to_string(steps.back());
      throw ConfigError("[ttt] select = \"" + rule.text() + "\": step " + std::to_string(rule.step) +
                        " is not an evaluated step; with steps = " + std::to_string(ttt.get_int("steps")) +
                        " and eval_every = " + std::to_string(ttt.get_int("eval_every")) + " they are " + listed);
    }
  }
  if (rule.rule == StepSelection::Rule::Validation && ttt.get_int("validation_size") < 1)
    throw ConfigError("[ttt] select = \"validation\" needs [ttt] validation_size ≥ 1 (the labelled target images "
                      "held out to choose the step); it is 0");
  return rule;
}

std::array<std::int64_t, 2> test_time_size(const Experiment& x, const Dataset& source, const Dataset& target) {
  const auto fixed = x.section("ttt").get_int_list("grid_size");
  if (!fixed.empty()) {
    if (fixed.size() != 2)
      throw ConfigError("[ttt] grid_size: expected [H, W] (two sizes), got " + std::to_string(fixed.size()) + " values");
    return {fixed[0], fixed[1]};
  }
  if (x.section("ttt").get_string("grid") != "target") return source.image_size();
  auto size = target.image_size();
  if (size[0] <= 0 || size[1] <= 0)
    throw ConfigError("[ttt] grid = \"target\": the target dataset's images vary in size (" + target.describe() +
                      "); the model needs one size: use grid = \"source\", or give the target dataset a fixed size");
  return size;
}

Trajectory adapt(const Experiment& x, const ComponentRegistry& registry, const std::string& method_name,
                 const fs::path& checkpoint) {
  const auto& ttt = x.section("ttt");
  const auto rule = step_selection(x);  // before anything is built
  start_sharded_adaptation(x);  // distributed launch: join the ranks; online is refused
  LocalBatchNorm local_batch_norm;  // adaptation episodes never synchronise BatchNorm over ranks
  const std::int64_t seed = x.section("run").get_int("seed");
  torch::manual_seed(static_cast<std::uint64_t>(seed));
  Run s = open_run(x, registry, method_name, checkpoint);
  const std::string protocol = ttt.get_string("protocol");
  const std::int64_t steps = ttt.get_int("steps");
  const auto eval_steps = evaluated_steps(steps, ttt.get_int("eval_every"));

  Trajectory tr;
  tr.method = method_name;
  tr.protocol = protocol;
  tr.tasks = s.tasks;
  tr.steps = eval_steps;
  tr.seed = seed;
  tr.grid_size = s.built.model->train_size();
  tr.fused_size = s.built.model->feature_info().fused_size;
  logger()->info("adapting with '{}' ({} protocol, {} steps, optimizer {} lr {:g}, {} adapted tensors, {} grid {})",
                 method_name, protocol, steps, s.session->policy().optimizer.name, s.session->policy().optimizer.lr,
                 s.session->adapted_parameters().size(), ttt.get_string("grid"), size_text(tr.grid_size));
  auto t0 = Clock::now();

  // select = validation: the first validation_size target images (in dataset order, before shuffling
  // and max_batches, which apply within each split) are a labelled validation split; the step is
  // chosen on it and the remaining images are the evaluated set, so their labels never pick the step.
  std::shared_ptr<Dataset> evaluated = s.target;
  bool fresh = true;
  // The session's counters before the evaluated pass: the validation pass's steps are not the run's.
  std::int64_t updates0 = 0, diverged0 = 0, predicts0 = 0;
  double step_s0 = 0.0, predict_s0 = 0.0;
  if (rule.rule == StepSelection::Rule::Validation) {
    const auto held = ttt.get_int("validation_size");
    const auto n = s.target->size();
    if (held >= n)
      throw ConfigError("[ttt] validation_size = " + std::to_string(held) + " holds out every target image (the target set has " +
                        std::to_string(n) + "); it must leave images to evaluate");
    auto validation = std::make_shared<DatasetSubset>(s.target, 0, held, "validation split");
    evaluated = std::make_shared<DatasetSubset>(s.target, held, n - held, "evaluated split");
    s.recording = false;
    auto v = run_protocol(x, s, one_set_stream(x, validation, "validation"), eval_steps, fresh,
                          "validate [" + method_name + "]");
    s.recording = true;
    fresh = false;
    updates0 = s.session->updates();
    diverged0 = s.session->diverged_steps();
    predicts0 = s.session->predict_calls();
    step_s0 = s.session->step_seconds();
    predict_s0 = s.session->predict_seconds();
    tr.validation_images = v.images;
    tr.validation_values = v.values;
    tr.validation_delta = deltas(v.values, s.tasks);
    torch::manual_seed(static_cast<std::uint64_t>(seed));  // the evaluated pass draws as it would alone
  }
  const TargetStream stream = make_target_stream(x, registry, evaluated, *s.source);
  // grid = "target" built the model for [data.target]'s size (test_time_size): every domain must have it.
  if (ttt.get_string("grid") == "target" && ttt.get_int_list("grid_size").empty())
    for (auto& segment : stream.segments)
      if (segment.data->image_size() != s.target->image_size())
        throw ConfigError("[ttt] domains: domain '" + stream.domains[segment.domain] + "': [ttt] grid = \"target\" builds "
                          "the model for [data.target]'s " + size_text(s.target->image_size()) + " images; this domain's are " +
                          size_text(segment.data->image_size()) + " (use grid = \"source\" or [ttt] grid_size)");
  if (stream.kind != "single")
    logger()->info("target stream: {} over {} domains ({} segments), reset {}", stream.kind, stream.domains.size(),
                   stream.segments.size(), to_string(stream.reset));
  auto pass = run_protocol(x, s, stream, eval_steps, fresh, "adapt [" + method_name + "]");
  tr.stream = std::move(pass.stream);
  tr.batches = pass.batches;
  tr.images = pass.images;
  tr.values = pass.values;

  tr.seconds = seconds_since(t0);
  tr.affinity = affinity_report(s.affinity_source, s.affinity_before, s.affinity_after);
  all_reduce_losses(s.loss_sum, s.loss_count, steps, run_device(x));  // distributed: over every rank's episodes
  for (size_t i = 0; i < s.loss_sum.size(); ++i)
    tr.loss.push_back(s.loss_count[i] > 0 ? s.loss_sum[i] / static_cast<double>(s.loss_count[i]) : std::nan(""));
  const auto& session = *s.session;
  tr.updates = session.updates() - updates0;
  tr.nonfinite_steps = session.diverged_steps() - diverged0;
  const auto stepped = tr.updates + tr.nonfinite_steps;
  const auto predicts = session.predict_calls() - predicts0;
  tr.step_ms = stepped > 0 ? 1000.0 * (session.step_seconds() - step_s0) / static_cast<double>(stepped) : 0.0;
  tr.predict_ms = predicts > 0 ? 1000.0 * (session.predict_seconds() - predict_s0) / static_cast<double>(predicts) : 0.0;
  // Distributed: every rank's updates (timings stay this rank's); in single_batch_then_eval all ranks made the same ones.
  if (protocol != "single_batch_then_eval") all_reduce_counts({&tr.updates, &tr.nonfinite_steps}, run_device(x));
  tr.delta = deltas(tr.values, s.tasks);
  tr.best = best_step_index(tr.delta);  // the oracle: chosen on the evaluated labels
  tr.select(rule);
  if (tr.nonfinite_steps > 0)
    logger()->warn("method '{}': {} adaptation steps diverged (non-finite loss, gradients or weights, or an exploding "
                   "update) and were undone", method_name, tr.nonfinite_steps);
  return tr;
}

std::vector<std::pair<TaskSpec, double>> evaluate(const Experiment& x, const ComponentRegistry& registry,
                                                  const fs::path& checkpoint, const std::string& role) {
  torch::manual_seed(static_cast<std::uint64_t>(x.section("run").get_int("seed")));
  const std::string method = x.section("ttt").get_string("method");
  Run s = open_run(x, registry, method, checkpoint, /*with_affinity=*/false, /*predict_norm=*/NormMode::Eval,
                   /*on_source=*/role == "source");
  auto data = role == "source" ? s.source : s.target;
  DataLoader loader(data, loader_options(x, x.section("ttt").get_int("batch"), false, false));
  Accumulators acc = fresh_accumulators(s.tasks);
  Batch b;
  while (loader.next(b)) s.predict_into(acc, b);
  std::vector<std::pair<TaskSpec, double>> out;
  for (size_t i = 0; i < s.tasks.size(); ++i) out.emplace_back(s.tasks[i], acc[i]->value());
  return out;
}

}  // namespace s4t::host
