#include "tiny_model.hpp"

#include <ATen/ATen.h>
#include <torch/utils.h>

#include "plugins/plugin_loader.hpp"
#include "s4t/task.hpp"
#include "test_support.hpp"

namespace s4t::test {

const host::ComponentRegistry& build_registry() {
  static host::ComponentRegistry registry = [] {
    host::ComponentRegistry r;
    host::load_plugin_dirs({plugin_dir()}, r);
    return r;
  }();
  return registry;
}

Options component_options(ComponentKind kind, const std::string& name, const std::map<std::string, Value>& overrides) {
  auto& c = build_registry().get(kind, name);
  auto o = Options::defaults(c.info.schema, name);
  for (auto& [k, v] : overrides) o.set(k, v);
  return o;
}

TinyModel make_tiny_model(const std::string& method_name, const TinyModelOptions& options) {
  auto& registry = build_registry();
  TinyModel t;
  t.tasks = {semseg_task(options.semseg_classes), depth_task(), normals_task(), edge_task()};
  BuildContext ctx;
  ctx.tasks = t.tasks;
  ctx.train_size = options.train_size;
  auto backbone = registry.make_backbone(
      "resnet", ctx,
      component_options(ComponentKind::Backbone, "resnet",
                        {{"depth", Value(options.resnet_depth)}, {"width", Value(options.resnet_width)}}));
  std::map<std::string, std::shared_ptr<TaskHead>> heads;
  for (auto& task : t.tasks)
    heads[task.name] = registry.make_head("conv1x1", ctx, task, backbone->info(), component_options(ComponentKind::Head, "conv1x1"));
  t.model = std::make_shared<host::CompositeModel>(t.tasks, options.train_size, backbone, heads);
  t.method = registry.make_method(method_name, ctx, component_options(ComponentKind::Method, method_name, options.method_options));
  t.model->attach_method(t.method);
  return t;
}

Batch random_batch(const std::vector<TaskSpec>& tasks, std::int64_t n, std::array<std::int64_t, 2> size,
                   std::uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  const auto h = size[0], w = size[1];
  Batch b;
  b.images = at::randn({n, 3, h, w}, gen);
  for (auto& t : tasks) {
    if (t.kind == TaskKind::Classification)
      b.targets[t.name] = at::randint(0, t.channels, {n, h, w}, gen, at::TensorOptions().dtype(at::kLong));
    else if (t.loss == LossKind::NormalL1) {
      auto v = at::randn({n, 3, h, w}, gen);
      b.targets[t.name] = v.div(v.norm(2, {1}, true));
    } else if (t.loss == LossKind::BalancedBCE) {
      b.targets[t.name] = at::rand({n, 1, h, w}, gen).gt(0.8).to(at::kFloat);
    } else {
      b.targets[t.name] = at::rand({n, t.channels, h, w}, gen).mul(5.0).add(1.0);
    }
    b.masks[t.name] = at::ones({n, 1, h, w}, at::TensorOptions().dtype(at::kBool));
  }
  for (std::int64_t i = 0; i < n; ++i) b.indices.push_back(i);
  return b;
}

bool VectorBatchStream::next(Batch& out) {
  if (position_ >= batches_.size()) return false;
  out = batches_[position_++];
  return true;
}

}  // namespace s4t::test
