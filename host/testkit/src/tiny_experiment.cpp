// TinyExperiment: the model composed by the host's compose_model, the trainer's source objective and
// post-training call, and the host's AdaptationSession.
#include <ATen/ATen.h>
#include <torch/nn/module.h>
#include <torch/optim/optimizer.h>
#include <torch/utils.h>

#include "engine/composite_model.hpp"
#include "engine/optimizers.hpp"
#include "engine/plugin_call.hpp"
#include "engine/setup.hpp"
#include "engine/source_objective.hpp"
#include "plugins_access.hpp"

namespace s4t::testkit {

struct TinyExperiment::Impl {
  Recipe recipe;
  Plugins plugins;
  std::shared_ptr<host::CompositeModel> model;
  std::shared_ptr<TTTMethod> method;
  std::string method_label, model_label;
  std::unique_ptr<NormLayers> norm_layers;
  std::unique_ptr<torch::optim::Optimizer> source_optimizer;
  std::unique_ptr<host::AdaptationSession> session;

  explicit Impl(Recipe r) : recipe(std::move(r)), plugins(recipe.plugin_dirs) {}

  // Source training trains everything; a session's snapshot and frozen parameters do not survive it.
  void enter_source_training() {
    session.reset();
    for (auto& p : model->root().parameters(true)) p.set_requires_grad(true);
  }
};

TinyExperiment::TinyExperiment(Recipe recipe) : impl_(std::make_unique<Impl>(std::move(recipe))) {
  auto& r = impl_->recipe;
  const auto& registry = PluginsAccess::registry(impl_->plugins);
  torch::manual_seed(r.seed);
  BuildContext ctx;
  ctx.tasks = r.tasks;
  ctx.train_size = r.image_size;
  ctx.seed = r.seed;
  ctx.device = r.device;
  auto& plugins = impl_->plugins;  // options() first: an unknown name gets the kit's message
  auto built = host::compose_model(registry, ctx,
                                   {r.backbone, plugins.options(ComponentKind::Backbone, r.backbone, r.backbone_options),
                                    r.head, plugins.options(ComponentKind::Head, r.head, r.head_options), r.method,
                                    plugins.options(ComponentKind::Method, r.method, r.method_options)});
  impl_->model = built.model;
  impl_->method = built.method;
  impl_->method_label = built.method_label;
  impl_->model_label = built.model_label;
  impl_->norm_layers = std::make_unique<NormLayers>(impl_->model->root());
}

TinyExperiment::~TinyExperiment() = default;

MultiTaskModel& TinyExperiment::model() { return *impl_->model; }
torch::nn::Module& TinyExperiment::root() { return impl_->model->root(); }
TTTMethod& TinyExperiment::method() { return *impl_->method; }
std::shared_ptr<TTTMethod> TinyExperiment::method_ptr() { return impl_->method; }
NormLayers& TinyExperiment::norm_layers() { return *impl_->norm_layers; }
const std::vector<TaskSpec>& TinyExperiment::tasks() const { return impl_->model->tasks(); }
const Recipe& TinyExperiment::recipe() const { return impl_->recipe; }
const Plugins& TinyExperiment::plugins() const { return impl_->plugins; }
MethodTraits TinyExperiment::method_traits() const { return impl_->plugins.method_traits(impl_->recipe.method); }
std::map<std::string, std::int64_t> TinyExperiment::parameter_counts() const { return impl_->model->parameter_counts(); }

Batch TinyExperiment::random_batch(std::int64_t n, std::uint64_t seed, std::array<std::int64_t, 2> size) const {
  if (size[0] <= 0 || size[1] <= 0) size = impl_->recipe.image_size;
  auto batch = testkit::random_batch(tasks(), n, size, seed);
  const auto& device = impl_->recipe.device;
  if (device.is_cpu()) return batch;
  batch.images = batch.images.to(device);
  for (auto& [name, t] : batch.targets) t = t.to(device);
  for (auto& [name, t] : batch.masks) t = t.to(device);
  return batch;
}

at::Tensor TinyExperiment::source_loss(const Batch& batch, std::map<std::string, at::Tensor>* main_losses) {
  impl_->enter_source_training();
  impl_->model->root().train();
  auto objective = host::source_objective(*impl_->model, *impl_->method, batch, impl_->model_label, impl_->method_label);
  if (main_losses) *main_losses = objective.main_losses;
  return objective.total;
}

double TinyExperiment::source_step(const Batch& batch, double lr) {
  at::Tensor loss = source_loss(batch);
  if (!impl_->source_optimizer) {
    OptimizerSpec spec;
    spec.name = "adam";
    spec.lr = lr;
    impl_->source_optimizer = host::make_optimizer(spec, impl_->model->root().parameters(true));
  }
  host::set_learning_rate(*impl_->source_optimizer, lr);
  impl_->source_optimizer->zero_grad();
  loss.backward();
  impl_->source_optimizer->step();
  return loss.item<double>();
}

void TinyExperiment::post_train(std::vector<Batch> batches) {
  impl_->enter_source_training();
  VectorBatchStream stream(std::move(batches));
  impl_->model->root().eval();  // the documented state for post-training: eval mode, gradients enabled
  host::call_plugin(impl_->method_label, "after_source_training", {},
                    [&] { impl_->method->after_source_training(*impl_->model, stream); });
}

host::AdaptationSession& TinyExperiment::session() {
  if (!impl_->session) {
    auto options = impl_->recipe.session;
    if (options.method_label == host::SessionOptions{}.method_label) options.method_label = impl_->method_label;
    impl_->norm_layers->apply(NormMode::TrainUpdate);  // the session's NormLayers records the momentum it finds
    impl_->session = std::make_unique<host::AdaptationSession>(*impl_->model, *impl_->method, options);
    impl_->session->begin();
  }
  return *impl_->session;
}

void TinyExperiment::reset_session() { impl_->session.reset(); }

}  // namespace s4t::testkit
