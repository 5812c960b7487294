#pragma once
// A deterministic test-time method for host tests: it adapts the backbone (BatchNorm in TrainUpdate) by
// shrinking the depth prediction, a label-free loss that changes the predictions at every step and draws
// no random numbers, so one episode gives the same result on whichever rank or pass runs it.
#include <memory>
#include <string>

#include "plugins/component_registry.hpp"
#include "s4t/method.hpp"
#include "s4t/registrar.hpp"

namespace s4t::test {

class DepthShrinkMethod final : public TTTMethod {
 public:
  AdaptationPolicy adaptation_policy(MultiTaskModel&) override {
    AdaptationPolicy p;
    p.selects = [](const std::string& name) { return name.rfind("backbone.", 0) == 0; };
    p.adapt_norm = NormMode::TrainUpdate;
    p.optimizer.lr = 1e-2;
    return p;
  }
  at::Tensor adaptation_loss(MultiTaskModel& model, const at::Tensor& images, const AdaptContext&) override {
    return model.forward(images).predictions.at("depth").pow(2).mean();
  }
};

/// Registers DepthShrinkMethod in `registry` as method `name` (plugin id "test.<name>").
inline void register_depth_shrink_method(host::ComponentRegistry& registry, const std::string& name) {
  host::StagingRegistrar staging("<test>", "test." + name, "1.0", nullptr);
  ComponentInfo info;
  info.name = name;
  info.version = "1.0";
  add_method<DepthShrinkMethod>(staging, info,
                                [](const BuildContext&, const Options&) { return std::make_shared<DepthShrinkMethod>(); });
  registry.commit(staging.take(), "<test>");
}

}  // namespace s4t::test
