#include "engine/adapter.hpp"

#include <ATen/ops/isfinite.h>
#include <ATen/ops/stack.h>
#include <torch/nn/module.h>
#include <torch/optim/optimizer.h>
#include <torch/utils.h>

#include <chrono>
#include <cmath>
#include <sstream>

#include "engine/checkpoint.hpp"
#include "engine/optimizers.hpp"
#include "engine/setup.hpp"
#include "engine/task_affinity.hpp"
#include "run/progress.hpp"
#include "s4t/error.hpp"
#include "s4t/log.hpp"
#include "s4t/metrics.hpp"
#include "s4t/state_dict.hpp"
#include "s4t/synchronization.hpp"
#include "s4t/tensor_ops.hpp"
#include <spdlog/spdlog.h>

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

bool all_gradients_finite(const std::vector<at::Tensor>& params) {
  std::vector<at::Tensor> norms;
  for (auto& p : params)
    if (p.grad().defined()) norms.push_back(p.grad().detach().abs().max().to(at::kFloat));
  if (norms.empty()) return true;
  return at::isfinite(at::stack(norms)).all().item<bool>();
}

bool all_finite(const std::vector<at::Tensor>& params) {
  std::vector<at::Tensor> norms;
  for (auto& p : params) norms.push_back(p.detach().abs().max().to(at::kFloat));
  return norms.empty() || at::isfinite(at::stack(norms)).all().item<bool>();
}

// Everything one adaptation run needs, built once.
struct Session {
  std::vector<TaskSpec> tasks;
  BuiltModel built;
  std::shared_ptr<Dataset> target;
  AdaptationPolicy policy;
  std::vector<at::Tensor> params;
  StateDict snapshot;  // source weights for episodic resets
  std::unique_ptr<torch::optim::Optimizer> optimizer;
  bool skip_nonfinite = true;
  std::int64_t updates = 0, nonfinite = 0;
  double step_seconds = 0.0, predict_seconds = 0.0;
  std::int64_t predict_calls = 0;
  bool affinity = false;
  std::vector<at::Tensor> last_good;      // adapted parameters before the current step
  std::vector<double> loss_sum;            // per step (1-based step - 1)
  std::vector<std::int64_t> loss_count;
  AffinityAccumulator affinity_source, affinity_before, affinity_after;

  /// Adds the method's task latents of `images` (prediction mode, no grad) to `into`.
  void latents_into(AffinityAccumulator& into, const at::Tensor& images) {
    if (!affinity) return;
    at::NoGradGuard no_grad;
    auto& root = built.model->root();
    root.eval();
    apply_norm_mode(root, policy.predict_norm);
    auto latents = built.method->task_latents(*built.model, images);
    if (latents.empty()) affinity = false;  // the method has none: skip the analysis
    else into.update(latents);
  }

  void reset_weights() {
    at::NoGradGuard no_grad;
    for (auto& [name, t] : state_dict_of(built.model->root())) t.copy_(snapshot.at(name));
    optimizer = make_optimizer(policy.optimizer, params);
  }

  void predict_into(Accumulators& acc, const Batch& batch) {
    auto t0 = Clock::now();
    at::NoGradGuard no_grad;
    auto& root = built.model->root();
    root.eval();
    apply_norm_mode(root, policy.predict_norm);
    auto predictions = built.model->forward(batch.images).predictions;
    for (size_t i = 0; i < tasks.size(); ++i) {
      auto& t = tasks[i];
      acc[i]->update(predictions.at(t.name), batch.targets.at(t.name), batch.masks.at(t.name));
    }
    predict_seconds += seconds_since(t0);
    ++predict_calls;
  }

  /// One optimisation step; false when the method asks for none (no forward, nothing changes).
  bool step(const Batch& batch, const AdaptContext& ctx) {
    auto t0 = Clock::now();
    auto& root = built.model->root();
    root.train();
    apply_norm_mode(root, policy.adapt_norm);
    std::vector<std::pair<at::Tensor, at::Tensor>> buffers;  // restored if the step goes non-finite
    if (skip_nonfinite)
      for (auto& b : root.buffers(true)) buffers.emplace_back(b, b.detach().clone());
    at::Tensor loss = built.method->adaptation_loss(*built.model, batch.images, ctx);
    if (!loss.defined()) return false;
    const double loss_value = loss.item<double>();  // one sync per step: the NaN guard needs it anyway
    if (static_cast<std::int64_t>(loss_sum.size()) < ctx.step) {
      loss_sum.resize(ctx.step, 0.0);
      loss_count.resize(ctx.step, 0);
    }
    if (std::isfinite(loss_value)) {
      loss_sum[ctx.step - 1] += loss_value;
      ++loss_count[ctx.step - 1];
    }
    auto restore = [&] {
      at::NoGradGuard no_grad;
      for (auto& [live, saved] : buffers) live.copy_(saved);
      optimizer->zero_grad();
      ++nonfinite;
    };
    if (skip_nonfinite && !std::isfinite(loss_value)) {
      restore();
      step_seconds += seconds_since(t0);
      return true;
    }
    optimizer->zero_grad();
    loss.backward();
    if (skip_nonfinite && !all_gradients_finite(params)) {
      restore();
    } else {
      if (skip_nonfinite) {  // a finite but huge step can still overflow the weights: keep the last good ones
        if (last_good.size() != params.size())
          for (auto& p : params) last_good.push_back(p.detach().clone());
        else
          for (size_t i = 0; i < params.size(); ++i) last_good[i].copy_(params[i].detach());
      }
      optimizer->step();
      if (skip_nonfinite && !all_finite(params)) {
        at::NoGradGuard no_grad;
        for (size_t i = 0; i < params.size(); ++i) params[i].copy_(last_good[i]);
        restore();
        optimizer = make_optimizer(policy.optimizer, params);  // its moments may have overflowed too
      } else {
        ++updates;
      }
    }
    step_seconds += seconds_since(t0);
    return true;
  }
};

Session open_session(const Experiment& x, const ComponentRegistry& registry, const std::string& method_name,
                     const fs::path& checkpoint, bool with_affinity = true) {
  Session s;
  auto source = make_dataset(x, registry, "source");
  s.target = make_dataset(x, registry, "target");
  s.tasks = resolve_tasks(x, *source, s.target.get());
  auto size = source->image_size();
  s.built = build_model(x, registry, s.tasks, size, method_name);
  load_checkpoint(checkpoint, s.built.model->root(), nullptr);
  s.policy = s.built.method->adaptation_policy(*s.built.model);
  for (auto& p : s.built.model->root().named_parameters(true)) {
    bool adapt = s.policy.selects && s.policy.selects(p.key());
    p.value().set_requires_grad(adapt);
    if (adapt) s.params.push_back(p.value());
  }
  for (auto& [name, t] : state_dict_of(s.built.model->root())) s.snapshot[name] = t.detach().clone();
  s.optimizer = make_optimizer(s.policy.optimizer, s.params);
  s.skip_nonfinite = x.section("ttt").get_bool("skip_nonfinite");
  s.affinity = with_affinity && x.section("ttt").get_bool("affinity");
  if (s.affinity) {  // source model on source data: the reference affinity of Fig. 1
    DataLoader source_loader(source, loader_options(x, x.section("ttt").get_int("batch"), false, false,
                                                    x.section("ttt").get_int("affinity_batches")));
    Batch b;
    while (s.affinity && source_loader.next(b)) s.latents_into(s.affinity_source, b.images);
  }
  return s;
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
  Session s = open_session(x, registry, method_name, checkpoint);
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
                 protocol, steps, s.policy.optimizer.name, s.policy.optimizer.lr, s.params.size());
  auto t0 = Clock::now();
  const bool progress_on = x.section("run").get_bool("progress");

  if (protocol == "single_batch_then_eval") {
    // Released-code protocol: adapt on the first batch only, evaluate the whole target set at each evaluated step.
    Batch first;
    if (!loader.next(first)) throw DataError("the target set is empty");
    s.built.method->begin_adaptation(*s.built.model);
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
      if (episodic && b > 0) s.reset_weights();
      if (episodic || b == 0) s.built.method->begin_adaptation(*s.built.model);
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
  tr.updates = s.updates;
  tr.nonfinite_steps = s.nonfinite;
  tr.step_ms = s.updates + s.nonfinite > 0 ? 1000.0 * s.step_seconds / static_cast<double>(s.updates + s.nonfinite) : 0.0;
  tr.predict_ms = s.predict_calls > 0 ? 1000.0 * s.predict_seconds / static_cast<double>(s.predict_calls) : 0.0;
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
  if (s.nonfinite > 0) logger()->warn("{} adaptation steps had a non-finite loss or gradient and were skipped", s.nonfinite);
  return tr;
}

std::vector<std::pair<TaskSpec, double>> evaluate(const Experiment& x, const ComponentRegistry& registry,
                                                  const fs::path& checkpoint, const std::string& role) {
  torch::manual_seed(static_cast<std::uint64_t>(x.section("run").get_int("seed")));
  const std::string method = x.section("ttt").get_string("method");
  Session s = open_session(x, registry, method, checkpoint, /*with_affinity=*/false);
  auto data = role == "source" ? make_dataset(x, registry, "source") : s.target;
  DataLoader loader(data, loader_options(x, x.section("ttt").get_int("batch"), false, false));
  Accumulators acc = fresh(s.tasks);
  s.policy.predict_norm = NormMode::Eval;
  Batch b;
  while (loader.next(b)) s.predict_into(acc, b);
  std::vector<std::pair<TaskSpec, double>> out;
  for (size_t i = 0; i < s.tasks.size(); ++i) out.emplace_back(s.tasks[i], acc[i]->value());
  return out;
}

// ------------------------------------------------------------------ serialisation
nlohmann::json Trajectory::synchronization() const {
  if (steps.size() < 3) return nlohmann::json::object();
  std::vector<bool> higher;
  for (auto& t : tasks) higher.push_back(t.higher_is_better);
  std::vector<std::vector<double>> adapted(values.begin() + 1, values.end());  // steps 1..S
  auto measures = [](const Curves& c) {
    return nlohmann::json{{"step_variance", step_variance(c)}, {"dtw", dtw(c)},
                          {"cosine_similarity", cosine_similarity(c, true)},
                          {"cosine_similarity_sum", cosine_similarity(c, false)}};
  };
  return {{"relative_gain", measures(relative_gain_curves(adapted, values.front(), higher))},
          {"raw", measures(oriented_curves(adapted, higher))}};
}

nlohmann::json Trajectory::to_json() const {
  nlohmann::json j;
  j["method"] = method;
  j["protocol"] = protocol;
  j["seed"] = seed;
  for (auto& t : tasks)
    j["tasks"].push_back({{"name", t.name}, {"metric", t.metric_label()}, {"higher_is_better", t.higher_is_better}});
  j["steps"] = steps;
  nlohmann::json traj;
  for (size_t i = 0; i < tasks.size(); ++i) {
    std::vector<double> col;
    for (auto& v : values) col.push_back(v[i]);
    traj[tasks[i].name] = col;
  }
  j["trajectory"] = traj;
  j["delta_ttt"] = delta;
  j["best_step"] = steps.empty() ? 0 : steps[best];
  j["best_delta_ttt"] = delta.empty() ? 0.0 : delta[best];
  nlohmann::json base_j, best_j;
  for (size_t i = 0; i < tasks.size() && !values.empty(); ++i) {
    base_j[tasks[i].name] = values[0][i];
    best_j[tasks[i].name] = values[best][i];
  }
  j["base"] = base_j;
  j["best"] = best_j;
  j["batches"] = batches;
  j["updates"] = updates;
  j["nonfinite_steps"] = nonfinite_steps;
  j["seconds"] = seconds;
  j["step_ms"] = step_ms;
  j["predict_ms"] = predict_ms;
  j["synchronization"] = synchronization();
  j["loss"] = loss;
  if (!affinity.is_null()) j["affinity"] = affinity;
  return j;
}

Trajectory Trajectory::from_json(const nlohmann::json& j) {
  Trajectory t;
  t.method = j.at("method");
  t.protocol = j.value("protocol", "");
  t.seed = j.value("seed", 0);
  for (auto& task : j.at("tasks")) {
    TaskSpec s;
    s.name = task.at("name");
    s.higher_is_better = task.at("higher_is_better");
    const std::string metric = task.at("metric");
    s.metric = metric == "mIoU" ? MetricKind::MeanIoU : metric == "mErr" ? MetricKind::AngularError : MetricKind::AlignedRmse;
    t.tasks.push_back(s);
  }
  t.steps = j.at("steps").get<std::vector<std::int64_t>>();
  t.values.assign(t.steps.size(), std::vector<double>(t.tasks.size()));
  for (size_t i = 0; i < t.tasks.size(); ++i) {
    auto col = j.at("trajectory").at(t.tasks[i].name).get<std::vector<double>>();
    for (size_t k = 0; k < col.size() && k < t.steps.size(); ++k) t.values[k][i] = col[k];
  }
  t.delta = j.at("delta_ttt").get<std::vector<double>>();
  const auto best_step = j.value("best_step", std::int64_t{0});
  for (size_t i = 0; i < t.steps.size(); ++i)
    if (t.steps[i] == best_step) t.best = i;
  t.batches = j.value("batches", std::int64_t{0});
  t.updates = j.value("updates", std::int64_t{0});
  t.nonfinite_steps = j.value("nonfinite_steps", std::int64_t{0});
  t.seconds = j.value("seconds", 0.0);
  t.step_ms = j.value("step_ms", 0.0);
  t.predict_ms = j.value("predict_ms", 0.0);
  if (j.contains("affinity")) t.affinity = j["affinity"];
  if (j.contains("loss"))
    for (auto& v : j["loss"]) t.loss.push_back(v.is_number() ? v.get<double>() : std::nan(""));
  return t;
}

std::string Trajectory::to_csv() const {
  std::ostringstream out;
  out << "step";
  for (auto& t : tasks) out << "," << t.name << "_" << t.metric_label();
  out << ",delta_ttt\n";
  out.precision(8);
  for (size_t i = 0; i < steps.size(); ++i) {
    out << steps[i];
    for (auto v : values[i]) out << "," << v;
    out << "," << delta[i] << "\n";
  }
  return out.str();
}

}  // namespace s4t::host
