#pragma once
// Turns a validated Experiment into live objects: datasets, the task list, the model and the method.
#include <memory>
#include <string>
#include <vector>

#include "config/experiment.hpp"
#include "engine/composite_model.hpp"
#include "engine/data_loader.hpp"
#include "plugins/component_registry.hpp"

namespace s4t::host {

/// Device named by [run].device; an error if CUDA is asked for but unavailable.
at::Device run_device(const Experiment& x);

/// The dataset of `role` ("source" or "target"), built once per process for the same settings.
std::shared_ptr<Dataset> make_dataset(const Experiment& x, const ComponentRegistry& registry, const std::string& role);
/// The dataset `choice` in `role` (a target stream's domain: role "target" with the domain's options).
std::shared_ptr<Dataset> make_dataset(const Experiment& x, const ComponentRegistry& registry, const std::string& role,
                                      const ComponentChoice& choice);

/// The experiment's tasks, taken from the source dataset in [tasks].names order, with loss weights
/// applied. The target must have the same tasks with the same channels and class names.
std::vector<TaskSpec> resolve_tasks(const Experiment& x, const Dataset& source, const Dataset* target);

struct BuiltModel {
  std::shared_ptr<CompositeModel> model;
  std::shared_ptr<TTTMethod> method;
  std::string method_name;
  std::string method_label;  ///< "method 's4t' (/path/s4t.so)": how errors name the method
  std::string model_label;   ///< "backbone 'resnet' (file), head 'conv1x1' (file)": errors of a forward pass
};

/// The components of a model and their validated options.
struct ModelRecipe {
  std::string backbone;
  Options backbone_options;
  std::string head;
  Options head_options;
  std::string method;
  Options method_options;
};

/// Backbone + one head per task of ctx.tasks (unless the backbone predicts) + method (attached), on
/// ctx.device: the one place where a model is composed (runs and the test kit).
BuiltModel compose_model(const ComponentRegistry& registry, const BuildContext& ctx, const ModelRecipe& recipe);

/// Backbone + heads + method (attached), on the run device.
BuiltModel build_model(const Experiment& x, const ComponentRegistry& registry, const std::vector<TaskSpec>& tasks,
                       std::array<std::int64_t, 2> train_size, const std::string& method_name);

/// Loader options from [data] and the given batch/shuffle settings.
LoaderOptions loader_options(const Experiment& x, std::int64_t batch, bool shuffle, bool drop_last,
                             std::int64_t max_batches = 0);

}  // namespace s4t::host
