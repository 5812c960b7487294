// A complete TTT method plugin: "flip_consistency".
//
// Test-time loss: the model's predictions on an image and on its mirror image (mirrored back) should
// agree. For every regression task the L1 distance between the two is minimised (the x-component of
// surface normals changes sign under a horizontal flip); for classification tasks the symmetric KL of
// the per-pixel softmax. Only the affine parameters of the backbone's normalisation layers adapt, with
// batch statistics; they are found by module type, so the method works on any backbone.
#include <ATen/ATen.h>

#include <memory>
#include <utility>

#include <s4t/method.hpp>
#include <s4t/option_binding.hpp>
#include <s4t/optimizer.hpp>
#include <s4t/parameter_selection.hpp>
#include <s4t/plugin.hpp>

namespace {

// Options are declared once: each key is bound to a field, and the schema and the reader come from it.
struct Settings {
  double weight = 1.0;
  s4t::OptimizerSpec optimizer;
};

const s4t::Binding<Settings>& binding() {
  static const auto b = [] {
    s4t::OptimizerSpec defaults;
    defaults.name = "sgd";
    defaults.lr = 1e-3;
    defaults.momentum = 0.9;
    return s4t::Binding<Settings>()
        .real("weight", &Settings::weight, 1.0, "scale of the consistency loss", 0.0)
        // optimizer, lr, momentum, ... in [method.flip_consistency]
        .group(&Settings::optimizer, s4t::optimizer_binding(defaults));
  }();
  return b;
}

class FlipConsistency final : public s4t::TTTMethod {
 public:
  explicit FlipConsistency(Settings s) : s_(std::move(s)) {}

  // No modules and no source objective (source_objective is not overridden): the host adapts the
  // shared Base checkpoint.

  s4t::AdaptationPolicy adaptation_policy(s4t::MultiTaskModel& model) override {
    s4t::AdaptationPolicy p;
    p.selects = s4t::select_names(s4t::norm_affine_parameter_names(model.root(), s4t::kBackbonePrefix));
    p.adapt_norm = s4t::NormMode::TrainFrozen;  // batch statistics, source running stats kept
    p.predict_norm = s4t::NormMode::TrainFrozen;
    p.optimizer = s_.optimizer;
    return p;
  }

  at::Tensor adaptation_loss(s4t::MultiTaskModel& model, const at::Tensor& images, const s4t::AdaptContext&) override {
    auto plain = model.forward(images).predictions;
    auto mirrored = model.forward(images.flip({3})).predictions;
    at::Tensor loss = at::zeros({}, images.options());
    for (const auto& task : model.tasks()) {
      auto a = plain.at(task.name);
      auto b = mirrored.at(task.name).flip({3});
      if (task.name == "normals") b = b.mul(at::tensor({-1.0f, 1.0f, 1.0f}, b.options()).view({1, 3, 1, 1}));
      if (task.kind == s4t::TaskKind::Classification) {
        auto la = a.log_softmax(1), lb = b.log_softmax(1);
        auto kl = la.exp().mul(la.sub(lb)).sum(1).mean().add(lb.exp().mul(lb.sub(la)).sum(1).mean());
        loss = loss.add(kl);
      } else {
        loss = loss.add(a.sub(b).abs().mean());
      }
    }
    return loss.mul(s_.weight);
  }

 private:
  Settings s_;
};

void register_components(s4t::Registrar& registrar) {
  s4t::ComponentInfo info;
  info.name = "flip_consistency";
  info.summary = "horizontal-flip consistency of all task outputs; adapts backbone normalisation affine parameters";
  info.doc = "Example third-party method from examples/plugin_template.";
  info.schema = binding().schema();
  // Traits (source objective, post-training) are read from the type's overrides.
  s4t::add_method<FlipConsistency>(registrar, info, [](const s4t::BuildContext&, const s4t::Options& options) {
    // Factories stay cheap and model-independent: the host may create one just to ask questions.
    return std::make_shared<FlipConsistency>(binding().read(options));
  });
}

}  // namespace

// The one exported symbol: a versioned descriptor the host checks before calling anything else.
S4T_PLUGIN("example.flip_consistency", "1.0.0", register_components)
