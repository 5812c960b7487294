// The `none` method: no adaptation. Its trajectory is flat and its step 0 is the "Base" row of every
// comparison: the source model evaluated with running (source) BatchNorm statistics.
#include <ATen/core/Tensor.h>

#include "s4t/method.hpp"
#include "s4t/plugin.hpp"

namespace {

class NoAdaptation final : public s4t::TTTMethod {
 public:
  s4t::AdaptationPolicy adaptation_policy(s4t::MultiTaskModel&) override {
    s4t::AdaptationPolicy p;
    p.selects = [](const std::string&) { return false; };
    p.adapt_norm = s4t::NormMode::Eval;
    p.predict_norm = s4t::NormMode::Eval;
    p.optimizer.lr = 0.0;
    return p;
  }
  at::Tensor adaptation_loss(s4t::MultiTaskModel&, const at::Tensor&, const s4t::AdaptContext&) override {
    return at::Tensor();  // no update, no forward: the host reuses step 0's predictions
  }
};

void register_none(s4t::Registrar& r) {
  s4t::ComponentInfo info;
  info.name = "none";
  info.summary = "no test-time adaptation (the Base row)";
  info.doc = "Adapts nothing; BatchNorm uses the source running statistics. Its source model is the shared "
             "base checkpoint that every method without a source-time module adapts from.";
  s4t::add_method<NoAdaptation>(r, info, [](const s4t::BuildContext&, const s4t::Options&) {
    return std::make_shared<NoAdaptation>();
  });
}

}  // namespace

S4T_PLUGIN("s4t.none", "1.0.0", register_none)
