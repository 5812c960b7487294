#include "engine/adapter.hpp"

#include <torch/utils.h>

#include <chrono>
#include <cmath>
#include <optional>

#include "engine/checkpoint.hpp"
#include "engine/setup.hpp"
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

Accumulators fresh(const std::vector<TaskSpec>& tasks) {
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
  std::vector<double> loss_sum;  // per step (1-based step - 1)
  std::vector<std::int64_t> loss_count;
  AffinityAccumulator affinity_source, affinity_before, affinity_after;

  /// Adds the method's task latents of `images` (prediction mode, no grad) to `into`.
  void latents_into(AffinityAccumulator& into, const at::Tensor& images) {
    if (!affinity) return;
    auto latents = session->latents(images);
    if (latents.empty()) affinity = false;  // the method has none: skip the analysis
    else into.update(latents);
  }

  void predict_into(Accumulators& acc, const Batch& batch) {
    auto predictions = session->predict(batch.images);
    for (size_t i = 0; i < tasks.size(); ++i) {
      auto& t = tasks[i];
      acc[i]->update(predictions.at(t.name), batch.targets.at(t.name), batch.masks.at(t.name));
    }
  }

  /// One step; false when the method asks for none (no forward, nothing changes).
  bool step(const Batch& batch, const AdaptContext& ctx) {
    auto outcome = session->step(batch.images, ctx);
    if (!outcome.ran) return false;
    if (static_cast<std::int64_t>(loss_sum.size()) < ctx.step) {
      loss_sum.resize(ctx.step, 0.0);
      loss_count.resize(ctx.step, 0);
    }
    if (std::isfinite(outcome.loss)) {
      loss_sum[ctx.step - 1] += outcome.loss;
      ++loss_count[ctx.step - 1];
    }
    return true;
  }
};

Run open_run(const Experiment& x, const ComponentRegistry& registry, const std::string& method_name,
             const fs::path& checkpoint, bool with_affinity = true,
             std::optional<NormMode> predict_norm = std::nullopt) {
  Run r;
  r.source = make_dataset(x, registry, "source");
  r.target = make_dataset(x, registry, "target");
  r.tasks = resolve_tasks(x, *r.source, r.target.get());
  r.built = build_model(x, registry, r.tasks, r.source->image_size(), method_name);
  load_checkpoint(checkpoint, r.built.model->root(), nullptr);
  SessionOptions options;
  options.guard_nonfinite = x.section("ttt").get_bool("skip_nonfinite");
  options.method_label = r.built.method_label;
  options.predict_norm = predict_norm;
  options.model_label = r.built.model_label;
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

}  // namespace

Trajectory adapt(const Experiment& x, const ComponentRegistry& registry, const std::string& method_name,
                 const fs::path& checkpoint) {
  const auto& ttt = x.section("ttt");
  const std::int64_t seed = x.section("run").get_int("seed");
  torch::manual_seed(static_cast<std::uint64_t>(seed));
  Run s = open_run(x, registry, method_name, checkpoint);
  const std::string protocol = ttt.get_string("protocol");
  const std::int64_t steps = ttt.get_int("steps");
  const auto eval_steps = evaluated_steps(steps, ttt.get_int("eval_every"));
  std::vector<Accumulators> acc;
  for (size_t i = 0; i < eval_steps.size(); ++i) acc.push_back(fresh(s.tasks));

  DataLoader loader(s.target, loader_options(x, ttt.get_int("batch"), ttt.get_bool("shuffle"), false,
                                             ttt.get_int("max_batches")));
  Trajectory tr;
  tr.method = method_name;
  tr.protocol = protocol;
  tr.tasks = s.tasks;
  tr.steps = eval_steps;
  tr.seed = seed;
  logger()->info("adapting with '{}' ({} protocol, {} steps, optimizer {} lr {:g}, {} adapted tensors)", method_name,
                 protocol, steps, s.session->policy().optimizer.name, s.session->policy().optimizer.lr,
                 s.session->adapted_parameters().size());
  auto t0 = Clock::now();
  const bool progress_on = x.section("run").get_bool("progress");

  if (protocol == "single_batch_then_eval") {
    // Released-code protocol: adapt on the first batch only, evaluate the whole target set at each evaluated step.
    Batch first;
    if (!loader.next(first)) throw DataError("the target set is empty");
    s.session->begin();
    s.latents_into(s.affinity_before, first.images);
    auto evaluate_all = [&](Accumulators& into) {
      loader.restart();
      Batch b;
      while (loader.next(b)) s.predict_into(into, b);
    };
    evaluate_all(acc[0]);
    Progress progress("adapt [" + method_name + "]", steps, progress_on);
    bool noop = false;
    size_t next_eval = 1;
    for (std::int64_t step = 1; step <= steps; ++step) {
      if (!noop) noop = !s.step(first, {step, 0});
      if (next_eval < eval_steps.size() && eval_steps[next_eval] == step) {
        if (noop) merge_into(acc[next_eval], acc[next_eval - 1]);
        else evaluate_all(acc[next_eval]);
        ++next_eval;
      }
      progress.update(step);
    }
    progress.finish();
    s.latents_into(s.affinity_after, first.images);
    tr.batches = 1;
  } else {
    const bool episodic = protocol == "episodic";
    Progress progress("adapt [" + method_name + "]", loader.batches_per_epoch(), progress_on);
    Batch batch;
    std::int64_t b = 0;
    while (loader.next(batch)) {
      if (episodic && b > 0) s.session->reset();  // source weights, fresh optimizer, begin_adaptation
      else if (b == 0) s.session->begin();
      Accumulators base = fresh(s.tasks);
      s.predict_into(base, batch);
      merge_into(acc[0], base);
      s.latents_into(s.affinity_before, batch.images);
      bool noop = false;
      size_t next_eval = 1;
      for (std::int64_t step = 1; step <= steps; ++step) {
        if (!noop) noop = !s.step(batch, {step, b});
        if (next_eval < eval_steps.size() && eval_steps[next_eval] == step) {
          if (noop) merge_into(acc[next_eval], base);  // nothing changed since step 0
          else s.predict_into(acc[next_eval], batch);
          ++next_eval;
        }
      }
      s.latents_into(s.affinity_after, batch.images);
      ++b;
      progress.update(b);
    }
    progress.finish();
    tr.batches = b;
  }

  tr.seconds = seconds_since(t0);
  tr.affinity = affinity_report(s.affinity_source, s.affinity_before, s.affinity_after);
  for (size_t i = 0; i < s.loss_sum.size(); ++i)
    tr.loss.push_back(s.loss_count[i] > 0 ? s.loss_sum[i] / static_cast<double>(s.loss_count[i]) : std::nan(""));
  const auto& session = *s.session;
  tr.updates = session.updates();
  tr.nonfinite_steps = session.diverged_steps();
  const auto stepped = session.updates() + session.diverged_steps();
  tr.step_ms = stepped > 0 ? 1000.0 * session.step_seconds() / static_cast<double>(stepped) : 0.0;
  tr.predict_ms = session.predict_calls() > 0
                      ? 1000.0 * session.predict_seconds() / static_cast<double>(session.predict_calls())
                      : 0.0;
  std::vector<bool> higher;
  for (auto& t : s.tasks) higher.push_back(t.higher_is_better);
  for (auto& a : acc) {
    std::vector<double> v;
    for (auto& m : a) v.push_back(m->value());
    tr.values.push_back(v);
  }
  for (auto& v : tr.values) tr.delta.push_back(delta_ttt(tr.values[0], v, higher));
  tr.best = tr.steps.size() > 1 ? 1 : 0;
  for (size_t i = 1; i < tr.delta.size(); ++i)
    if (tr.delta[i] > tr.delta[tr.best]) tr.best = i;
  if (tr.nonfinite_steps > 0)
    logger()->warn("method '{}': {} adaptation steps diverged (non-finite loss, gradients or weights, or an exploding "
                   "update) and were undone", method_name, tr.nonfinite_steps);
  return tr;
}

std::vector<std::pair<TaskSpec, double>> evaluate(const Experiment& x, const ComponentRegistry& registry,
                                                  const fs::path& checkpoint, const std::string& role) {
  torch::manual_seed(static_cast<std::uint64_t>(x.section("run").get_int("seed")));
  const std::string method = x.section("ttt").get_string("method");
  Run s = open_run(x, registry, method, checkpoint, /*with_affinity=*/false, /*predict_norm=*/NormMode::Eval);
  auto data = role == "source" ? s.source : s.target;
  DataLoader loader(data, loader_options(x, x.section("ttt").get_int("batch"), false, false));
  Accumulators acc = fresh(s.tasks);
  Batch b;
  while (loader.next(b)) s.predict_into(acc, b);
  std::vector<std::pair<TaskSpec, double>> out;
  for (size_t i = 0; i < s.tasks.size(); ++i) out.emplace_back(s.tasks[i], acc[i]->value());
  return out;
}

}  // namespace s4t::host
