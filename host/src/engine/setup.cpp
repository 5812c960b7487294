#include "engine/setup.hpp"

#include <torch/cuda.h>

#include <map>
#include <mutex>

#include "engine/compute_mode.hpp"
#include "engine/plugin_call.hpp"
#include "s4t/error.hpp"
#include "run/logging.hpp"
#include "util/closest_match.hpp"

namespace s4t::host {

at::Device run_device(const Experiment& x) {
  const std::string name = x.section("run").get_string("device");
  at::Device device(at::kCPU);
  try {
    device = at::Device(name);
  } catch (const std::exception&) {
    throw ConfigError("[run] device = \"" + name + "\" is not a device; expected cpu, cuda or cuda:N");
  }
  if (device.is_cuda() && !torch::cuda::is_available())
    throw ConfigError("[run] device = \"" + name + "\" but this LibTorch has no usable CUDA device");
  return device;
}

std::shared_ptr<Dataset> make_dataset(const Experiment& x, const ComponentRegistry& registry, const std::string& role) {
  return make_dataset(x, registry, role, role == "source" ? x.source : x.target);
}

std::shared_ptr<Dataset> make_dataset(const Experiment& x, const ComponentRegistry& registry, const std::string& role,
                                      const ComponentChoice& choice) {
  DatasetContext ctx;
  ctx.role = role;
  ctx.tasks = x.section("tasks").get_string_list("names");
  ctx.config_dir = x.config_dir;
  ctx.seed = static_cast<std::uint64_t>(x.section("run").get_int("seed"));
  // Datasets are immutable once built (get() is const and thread-safe): one command builds each
  // distinct (role, dataset, options, tasks, seed, folder) once and every train/adapt call shares it.
  std::string key = role + "\n" + choice.name + "\n" + ctx.config_dir.string() + "\n" + std::to_string(ctx.seed);
  for (auto& t : ctx.tasks) key += "\n" + t;
  for (auto& [k, v] : choice.options.values()) key += "\n" + k + "=" + to_string(v);
  static std::mutex mutex;
  static std::map<std::string, std::shared_ptr<Dataset>> built;
  std::lock_guard<std::mutex> lock(mutex);
  if (auto it = built.find(key); it != built.end()) return it->second;
  auto d = registry.make_dataset(choice.name, ctx, choice.options);
  logger()->info("{} data: {}", role, call_plugin(registry.label(ComponentKind::Dataset, choice.name), "describe", {},
                                                   [&] { return d->describe(); }));
  built[key] = d;
  return d;
}

std::vector<TaskSpec> resolve_tasks(const Experiment& x, const Dataset& source, const Dataset* target) {
  auto names = x.section("tasks").get_string_list("names");
  auto weights = x.section("tasks").get_float_list("loss_weights");
  // How predictions are scored: the source's TaskSpec (default) or the target's, as the released S4T code
  // scores by the target's task names (docs/methods.md#fidelity-to-the-released-code).
  const bool target_metrics = x.section("tasks").get_string("metric_spec") == "target";
  const bool clamp_depth = x.section("tasks").get_bool("clamp_depth");
  auto find = [](const std::vector<TaskSpec>& all, const std::string& name) -> const TaskSpec* {
    for (auto& t : all)
      if (t.name == name) return &t;
    return nullptr;
  };
  auto source_tasks = source.tasks();
  std::vector<std::string> available;
  for (auto& t : source_tasks) available.push_back(t.name);
  std::vector<TaskSpec> out;
  for (size_t i = 0; i < names.size(); ++i) {
    const TaskSpec* t = find(source_tasks, names[i]);
    if (!t)
      throw ConfigError("[tasks] names: the source dataset has no task '" + names[i] + "'; it has " + join(available) +
                        did_you_mean(names[i], available));
    TaskSpec spec = *t;
    if (!weights.empty()) spec.loss_weight = weights[i];
    if (target) {
      auto target_tasks = target->tasks();
      const TaskSpec* u = find(target_tasks, names[i]);
      if (!u) throw ConfigError("[tasks] names: the target dataset has no task '" + names[i] + "'");
      if (u->channels != spec.channels || u->class_names != spec.class_names)
        throw ConfigError("task '" + names[i] + "': source and target disagree on its output (" +
                          std::to_string(spec.channels) + " vs " + std::to_string(u->channels) +
                          " channels; classes [" + join(spec.class_names) + "] vs [" + join(u->class_names) +
                          "]); map both to the shared label space");
      if (target_metrics) {
        spec.metric = u->metric;
        spec.higher_is_better = u->higher_is_better;
        spec.activation = u->activation;
        spec.clamp_nonnegative = u->clamp_nonnegative;
        spec.unit = u->unit;
      }
    }
    if (!clamp_depth) spec.clamp_nonnegative = false;
    out.push_back(spec);
  }
  return out;
}

BuiltModel compose_model(const ComponentRegistry& registry, const BuildContext& ctx, const ModelRecipe& r) {
  auto backbone = registry.make_backbone(r.backbone, ctx, r.backbone_options);
  auto info = call_plugin(registry.label(ComponentKind::Backbone, r.backbone), "info", {}, [&] { return backbone->info(); });
  std::map<std::string, std::shared_ptr<TaskHead>> heads;
  if (!info.provides_predictions)
    for (auto& t : ctx.tasks) heads[t.name] = registry.make_head(r.head, ctx, t, info, r.head_options);
  BuiltModel built;
  built.model = std::make_shared<CompositeModel>(ctx.tasks, ctx.train_size, backbone, heads);
  built.model->to(ctx.device);
  const auto backbone_label = registry.label(ComponentKind::Backbone, r.backbone);
  const auto head_label = registry.label(ComponentKind::Head, r.head);
  built.model->set_labels(backbone_label, head_label);
  built.model_label = backbone_label + ", " + head_label;
  built.method_name = r.method;
  built.method_label = registry.label(ComponentKind::Method, r.method);
  built.method = registry.make_method(r.method, ctx, r.method_options);
  call_plugin(built.method_label, "attach", {},
              [&] { built.model->attach_method(built.method); });
  return built;
}

BuiltModel build_model(const Experiment& x, const ComponentRegistry& registry, const std::vector<TaskSpec>& tasks,
                       std::array<std::int64_t, 2> train_size, const std::string& method_name) {
  BuildContext ctx;
  ctx.tasks = tasks;
  ctx.train_size = train_size;
  ctx.device = run_device(x);
  ctx.config_dir = x.config_dir;
  ctx.seed = static_cast<std::uint64_t>(x.section("run").get_int("seed"));
  auto built = compose_model(registry, ctx,
                             {x.backbone.name, x.backbone.options, x.head.name, x.head.options, method_name,
                              x.method_options(method_name)});
  // [run] memory_format: weights converted once, in place (optimizers and snapshots see the same tensors).
  to_memory_format(built.model->root(), compute_mode(x).channels_last);
  return built;
}

LoaderOptions loader_options(const Experiment& x, std::int64_t batch, bool shuffle, bool drop_last,
                             std::int64_t max_batches) {
  LoaderOptions o;
  auto& data = x.section("data");
  o.batch = batch;
  o.shuffle = shuffle;
  o.drop_last = drop_last;
  o.seed = static_cast<std::uint64_t>(x.section("run").get_int("seed"));
  o.workers = static_cast<int>(data.get_int("workers"));
  o.prefetch = static_cast<int>(data.get_int("prefetch"));
  o.pin_memory = data.get_bool("pin_memory");
  o.max_batches = max_batches;
  o.device = run_device(x);
  return o;
}


}  // namespace s4t::host
