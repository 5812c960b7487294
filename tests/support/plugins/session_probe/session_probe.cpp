// Test-only methods for the AdaptationSession tests: the same plain loss (mean squared depth
// prediction, backbone adapted, batch statistics updated) and two ways of failing.
//   probe_plain   the plain loss
//   probe_nan     the plain loss times NaN (after the forward pass has moved the running statistics)
//   probe_throws  adaptation_loss throws a std::runtime_error
#include <cmath>
#include <stdexcept>

#include <ATen/ATen.h>

#include "s4t/option_binding.hpp"
#include "s4t/optimizer.hpp"
#include "s4t/parameter_selection.hpp"
#include "s4t/plugin.hpp"

namespace {

enum class Behaviour { Plain, Nan, Throws };

struct Settings {
  s4t::OptimizerSpec optimizer;
};

const s4t::Binding<Settings>& binding() {
  static const auto b = s4t::Binding<Settings>().group(&Settings::optimizer, s4t::optimizer_binding({}));
  return b;
}

class ProbeMethod final : public s4t::TTTMethod {
 public:
  ProbeMethod(Behaviour behaviour, Settings settings) : behaviour_(behaviour), settings_(std::move(settings)) {}

  s4t::AdaptationPolicy adaptation_policy(s4t::MultiTaskModel&) override {
    s4t::AdaptationPolicy p;
    p.selects = s4t::select_prefixes({s4t::kBackbonePrefix});
    p.adapt_norm = s4t::NormMode::TrainUpdate;
    p.predict_norm = s4t::NormMode::Eval;
    p.optimizer = settings_.optimizer;
    return p;
  }

  at::Tensor adaptation_loss(s4t::MultiTaskModel& model, const at::Tensor& images, const s4t::AdaptContext&) override {
    if (behaviour_ == Behaviour::Throws) throw std::runtime_error("the probe always fails here");
    auto loss = model.forward(images).predictions.at("depth").pow(2).mean();
    return behaviour_ == Behaviour::Nan ? loss.mul(std::nan("")) : loss;
  }

 private:
  Behaviour behaviour_;
  Settings settings_;
};

void add(s4t::Registrar& r, const std::string& name, Behaviour behaviour) {
  s4t::ComponentInfo info;
  info.name = name;
  info.summary = "test probe of the adaptation session";
  info.schema = binding().schema();
  s4t::add_method<ProbeMethod>(r, info, [behaviour](const s4t::BuildContext&, const s4t::Options& o) {
    return std::make_shared<ProbeMethod>(behaviour, binding().read(o));
  });
}

void register_probes(s4t::Registrar& r) {
  add(r, "probe_plain", Behaviour::Plain);
  add(r, "probe_nan", Behaviour::Nan);
  add(r, "probe_throws", Behaviour::Throws);
}

}  // namespace

S4T_PLUGIN("s4t.test.session_probe", "0.0.1", register_probes)
