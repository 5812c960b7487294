#include "engine/source_objective.hpp"

#include "engine/compute_mode.hpp"
#include "engine/plugin_call.hpp"
#include "s4t/losses.hpp"

namespace s4t::host {

SourceObjective source_objective(MultiTaskModel& model, TTTMethod& method, const Batch& batch,
                                 const std::string& model_label, const std::string& method_label,
                                 const std::string& where) {
  const std::string suffix = where.empty() ? "" : " " + where;
  auto output = call_plugin(model_label, "forward" + suffix, {}, [&] { return model.forward(batch.images); });
  // Under bf16 autocast ([run] precision) the task losses are still computed in fp32.
  output.predictions = as_float(std::move(output.predictions));
  SourceObjective out;
  const auto& tasks = model.tasks();
  out.main_losses = task_losses(tasks, output.predictions, batch);
  for (auto& [task, maps] : output.features.deep_supervision)
    for (std::size_t k = 0; k < maps.size(); ++k)
      for (auto& t : tasks)
        if (t.name == task) out.main_losses[task + "@ds" + std::to_string(k)] = task_loss(t, as_float(maps[k]), batch);
  out.total = call_plugin(method_label, "source_objective" + suffix, {},
                          [&] { return method.source_objective(model, batch, output, out.main_losses); });
  return out;
}

}  // namespace s4t::host
