// A complete TTT method plugin: "flip_consistency".
//
// Test-time loss: the model's predictions on an image and on its mirror image (mirrored back) should
// agree. For every regression task the L1 distance between the two is minimised (the x-component of
// surface normals changes sign under a horizontal flip); for classification tasks the symmetric KL of
// the per-pixel softmax. Only BatchNorm affine parameters of the backbone adapt, with batch statistics.
#include <ATen/ATen.h>

#include <s4t/sdk.hpp>

namespace {

class FlipConsistency final : public s4t::TTTMethod {
 public:
  explicit FlipConsistency(const s4t::Options& options)
      : weight_(options.get_float("weight")), optimizer_(s4t::optimizer_from(options)) {}

  // No modules and no source objective: the host adapts the shared Base checkpoint.

  s4t::AdaptationPolicy adaptation_policy(s4t::MultiTaskModel&) override {
    s4t::AdaptationPolicy p;
    // Full parameter names look like "backbone.layer1.0.bn1.weight"; pick the BatchNorm affine ones.
    p.selects = [](const std::string& name) {
      return name.rfind("backbone.", 0) == 0 && name.find(".bn") != std::string::npos;
    };
    p.adapt_norm = s4t::NormMode::TrainFrozen;    // batch statistics, source running stats kept
    p.predict_norm = s4t::NormMode::TrainFrozen;
    p.optimizer = optimizer_;
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
    return loss.mul(weight_);
  }

 private:
  double weight_;
  s4t::OptimizerSpec optimizer_;
};

void register_components(s4t::Registrar& registrar) {
  s4t::ComponentInfo info;
  info.name = "flip_consistency";
  info.version = "1.0.0";
  info.summary = "horizontal-flip consistency of all task outputs; adapts backbone BatchNorm affine parameters";
  info.doc = "Example third-party method from examples/plugin_template.";
  info.schema.add_float("weight", 1.0, "scale of the consistency loss", 0.0);
  s4t::OptimizerSpec defaults;
  defaults.name = "sgd";
  defaults.lr = 1e-3;
  defaults.momentum = 0.9;
  s4t::add_optimizer_options(info.schema, defaults);  // optimizer, lr, momentum, ... in [method.flip_consistency]
  registrar.add_method(info, [](const s4t::BuildContext&, const s4t::Options& options) {
    // Factories stay cheap and model-independent: the host may create one just to ask questions.
    return std::make_shared<FlipConsistency>(options);
  });
}

}  // namespace

// The one exported symbol: a versioned descriptor the host checks before calling anything else.
S4T_PLUGIN("example.flip_consistency", "1.0.0", register_components)
