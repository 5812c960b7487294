// TIPI (Nguyen et al., CVPR 2023; docs/methods.md#tipi): make the model invariant to a small adversarial
// input perturbation — minimise KL(p(x + δ_adv) ‖ sg p(x)) (+ λ·entropy of p(x)) over the affine
// parameters of the normalisation layers, with a second BatchNorm "branch" for the perturbed passes.
//
// Multi-task adaptation [RECON]: the divergence is taken on the listed task outputs — per-pixel
// categorical KL on semseg's softmax (default), Bernoulli KL on a sigmoid task (edge), squared error
// on a regression task (depth, normals) — and the perturbation δ is applied to the shared input image.
#include <ATen/ATen.h>
#include <torch/csrc/autograd/autograd.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "s4t/error.hpp"
#include "s4t/log.hpp"
#include "s4t/method.hpp"
#include "s4t/norm.hpp"
#include "s4t/option_binding.hpp"
#include "s4t/optimizer.hpp"
#include "s4t/parameter_selection.hpp"
#include "s4t/plugin.hpp"

namespace {

// Options of [method.tipi]; keys and defaults in binding().
struct Settings {
  std::vector<std::string> tasks;
  double epsilon;
  std::vector<double> input_std;
  bool random_init;
  double entropy_weight;
  bool separate_adv_bn;  // adv_norm = "separate"
  s4t::OptimizerSpec optimizer;
};

const s4t::Binding<Settings>& binding() {
  static const auto b = [] {
    s4t::OptimizerSpec d;
    d.name = "sgd";
    d.lr = 2.5e-4 / 64.0 * 8.0;
    d.momentum = 0.9;
    return s4t::Binding<Settings>()
        .texts("tasks", &Settings::tasks, {"semseg"},
               "task outputs compared between clean and perturbed inputs (softmax KL, Bernoulli KL or squared "
               "error)")
        .real("epsilon", &Settings::epsilon, 2.0 / 255.0, "perturbation radius on the [0,1] pixel scale", 0.0, 1.0)
        .reals("input_std", &Settings::input_std, {0.229, 0.224, 0.225},
               "per-channel std of the dataset's input normalisation (eps_c = epsilon / std_c)", 1e-6)
        .flag("random_init", &Settings::random_init, true, "start the FGSM step from d0 ~ U[-eps, eps] (else d0 = 0)")
        .real("entropy_weight", &Settings::entropy_weight, 1.0, "weight of the entropy of the clean prediction", 0.0)
        .choice("adv_norm", &Settings::separate_adv_bn, "separate", {{"separate", true}, {"shared", false}},
                "separate: perturbed passes do not update running statistics (dual BN); shared: they do")
        .group(&Settings::optimizer, s4t::optimizer_binding(d))
        .then([](Settings& s, const s4t::Options&) {
          if (s.input_std.empty())
            throw s4t::ConfigError("[method.tipi] input_std: give one value or one per input channel");
          for (double v : s.input_std)
            if (v <= 0.0) throw s4t::ConfigError("[method.tipi] input_std: every value must be positive");
        });
  }();
  return b;
}

enum class OutputKind { Softmax, Sigmoid, Regression };

struct TaskTerm {
  std::string task;
  OutputKind kind;
};

// Per-pixel divergence of `moved` from the fixed `reference` (both raw outputs N×C×H×W), summed over
// channels and averaged over pixels and images. KL(moved ‖ reference) is TIPI's "reverse" KL.
at::Tensor divergence(OutputKind kind, const at::Tensor& moved, const at::Tensor& reference) {
  switch (kind) {
    case OutputKind::Softmax: {
      auto log_p = at::log_softmax(moved, 1);
      return log_p.exp().mul(log_p.sub(at::log_softmax(reference, 1))).sum(1).mean();
    }
    case OutputKind::Sigmoid: {
      // Bernoulli KL: p (log p − log q) + (1 − p)(log(1 − p) − log(1 − q)); log σ(s) = −softplus(−s).
      auto p = at::sigmoid(moved);
      auto term1 = p.mul(at::softplus(reference.neg()).sub(at::softplus(moved.neg())));
      auto term0 = p.neg().add(1.0).mul(at::softplus(reference).sub(at::softplus(moved)));
      return term1.add(term0).sum(1).mean();
    }
    case OutputKind::Regression: return moved.sub(reference).pow(2).sum(1).mean();
  }
  return at::Tensor();
}

// Entropy of the prediction (softmax or sigmoid outputs), mean over pixels; undefined for regression.
at::Tensor entropy(OutputKind kind, const at::Tensor& logits) {
  if (kind == OutputKind::Softmax) return at::softmax(logits, 1).mul(at::log_softmax(logits, 1)).sum(1).neg().mean();
  if (kind == OutputKind::Sigmoid) {
    auto p = at::sigmoid(logits);
    return p.mul(at::softplus(logits.neg())).add(p.neg().add(1.0).mul(at::softplus(logits))).sum(1).mean();
  }
  return at::Tensor();
}

class Tipi final : public s4t::TTTMethod {
 public:
  explicit Tipi(Settings s) : s_(std::move(s)) {}

  void attach(s4t::MultiTaskModel& model) override {
    norm_layers_.emplace(model.root());  // backbone and heads are complete; TIPI adds no module
    terms_.clear();
    for (auto& name : s_.tasks) {
      const s4t::TaskSpec* spec = nullptr;
      for (auto& t : model.tasks())
        if (t.name == name) spec = &t;
      if (!spec) {
        s4t::log::warn("tipi: task '{}' is not a task of this model; it is left out of the loss", name);
        continue;
      }
      OutputKind kind = OutputKind::Regression;
      if (spec->kind == s4t::TaskKind::Classification) kind = OutputKind::Softmax;
      else if (spec->activation == s4t::Activation::Sigmoid || spec->loss == s4t::LossKind::BalancedBCE)
        kind = OutputKind::Sigmoid;
      terms_.push_back({name, kind});
    }
    if (terms_.empty())
      throw s4t::ConfigError("[method.tipi] tasks: none of the listed tasks is in the model; list e.g. semseg");
  }

  s4t::AdaptationPolicy adaptation_policy(s4t::MultiTaskModel& model) override {
    s4t::AdaptationPolicy p;
    p.selects = s4t::select_names(s4t::norm_affine_parameter_names(model.root()));  // TIPI's collect_params
    // The "main" branch: the clean pass uses batch statistics and updates the running statistics;
    // prediction uses those running statistics (TIPI evaluates in eval mode with the main branch).
    p.adapt_norm = s4t::NormMode::TrainUpdate;
    p.predict_norm = s4t::NormMode::Eval;
    p.optimizer = s_.optimizer;
    return p;
  }

  at::Tensor adaptation_loss(s4t::MultiTaskModel& model, const at::Tensor& images, const s4t::AdaptContext&) override {
    const auto channels = images.size(1);
    if (s_.input_std.size() != 1 && static_cast<std::int64_t>(s_.input_std.size()) != channels)
      throw s4t::ConfigError("[method.tipi] input_std has " + std::to_string(s_.input_std.size()) +
                             " values but the images have " + std::to_string(channels) + " channels");
    // ε per channel in the normalised input space: a pixel-space step ε becomes ε / std_c.
    std::vector<double> eps(static_cast<size_t>(channels));
    for (std::int64_t c = 0; c < channels; ++c)
      eps[static_cast<size_t>(c)] = s_.epsilon / s_.input_std[s_.input_std.size() == 1 ? 0 : static_cast<size_t>(c)];
    auto bound = at::tensor(eps, images.options()).view({1, channels, 1, 1});

    // Clean pass (main branch). With a zero initial perturbation the clean pass itself is the first
    // "perturbed" pass, so δ0 must be part of its graph.
    at::Tensor delta0 = s_.random_init ? at::rand_like(images).mul(2.0).sub(1.0).mul(bound) : at::zeros_like(images);
    delta0.set_requires_grad(true);
    auto clean = model.forward(s_.random_init ? images : images.add(delta0)).predictions;

    // Adversarial passes (the "adv" branch): batch statistics of the perturbed batch; with separate
    // branches they must not move the main branch's running statistics.
    if (s_.separate_adv_bn) norm_layers_->apply(s4t::NormMode::TrainFrozen);
    at::Tensor adv_loss;
    std::map<std::string, at::Tensor> start = s_.random_init ? model.forward(images.add(delta0)).predictions : clean;
    for (auto& term : terms_) {
      auto d = divergence(term.kind, start.at(term.task), clean.at(term.task).detach());
      adv_loss = adv_loss.defined() ? adv_loss.add(d) : d;
    }
    auto grad = torch::autograd::grad({adv_loss}, {delta0}, /*grad_outputs=*/{}, /*retain_graph=*/!s_.random_init,
                                      /*create_graph=*/false, /*allow_unused=*/true)[0];
    at::Tensor delta = delta0.detach();
    if (grad.defined()) delta = delta.add(grad.sign().mul(bound));
    delta = at::max(at::min(delta, bound), bound.neg());
    auto perturbed = model.forward(images.add(delta)).predictions;
    if (s_.separate_adv_bn) norm_layers_->apply(s4t::NormMode::TrainUpdate);  // back to the main branch

    at::Tensor loss;
    for (auto& term : terms_) {
      auto t = divergence(term.kind, perturbed.at(term.task), clean.at(term.task).detach());
      if (s_.entropy_weight != 0.0)
        if (auto h = entropy(term.kind, clean.at(term.task)); h.defined()) t = t.add(h.mul(s_.entropy_weight));
      loss = loss.defined() ? loss.add(t) : t;
    }
    return loss;
  }

 private:
  Settings s_;
  std::optional<s4t::NormLayers> norm_layers_;  // the BatchNorm layers of the model, built in attach()
  std::vector<TaskTerm> terms_;
};

void register_tipi(s4t::Registrar& r) {
  s4t::ComponentInfo info;
  info.name = "tipi";
  info.summary = "TIPI: invariance to an FGSM input perturbation (KL + entropy) on normalisation affine parameters";
  info.doc =
      "TIPI (Nguyen et al., CVPR 2023; docs/methods.md#tipi). No source-time module; adapts from the shared base "
      "checkpoint.\n"
      "Per step: (1) clean pass, logits l = f(x), batch statistics, running statistics updated (the 'main' BN "
      "branch); (2) perturbation d0 ~ U[-eps, eps] per pixel (`random_init`, as TIPI's ImageNet/VisDA setting; "
      "false: d0 = 0 as its CIFAR setting, whose KL gradient vanishes at d0 = 0), one FGSM step "
      "d = clip(d0 + eps*sign(grad_d KL(f(x+d0) || sg l)), -eps, eps); (3) loss = KL(f(x+d) || sg l) + "
      "entropy_weight * H(l) (TIPI's reverse KL; entropy_weight 1 as ImageNet/VisDA).\n"
      "Multi-task decision [RECON] (`tasks`, default semseg): per-pixel categorical KL on a classification "
      "task's softmax, Bernoulli KL on a sigmoid task (edge), squared error (sum over channels) on a regression "
      "task (depth, normals; no entropy term); each averaged over pixels and images, summed over tasks. The "
      "perturbation is applied to the shared input image.\n"
      "eps: 2/255 on the [0,1] pixel scale, expressed in the normalised input space as eps/std_c per channel "
      "(`input_std`, default ImageNet std 0.229/0.224/0.225 for NYUD/PASCAL; use 0.5 for Taskonomy's [-1,1] "
      "mapping). x+d is not clipped to the valid pixel range (TIPI's clip is commented out as well).\n"
      "Dual BN (`adv_norm = \"separate\"`, default): the perturbed passes use their own batch statistics and "
      "leave the running statistics unchanged (NormMode train_frozen around them). This equals TIPI's second "
      "'adv' BN branch, whose running statistics are never used for prediction. `\"shared\"`: the perturbed "
      "passes also update the running statistics.\n"
      "Updated parameters: weight and bias of every normalisation layer (BatchNorm, GroupNorm, LayerNorm, "
      "InstanceNorm). Prediction: eval mode with the main branch's running statistics (TIPI's choice for "
      "batches <= 64).\n"
      "Optimizer: SGD momentum 0.9, no weight decay, lr = 2.5e-4/64 per sample x 8 = 3.125e-5 (ImageNet/VisDA "
      "setting at the protocol's batch 8; TIPI scales the lr with the batch size: scale `lr` by B/8 for another "
      "batch). CIFAR setting: Adam, 1e-3/200 per sample. TIPI: 1 step per batch, online.";
  info.schema = binding().schema();
  s4t::add_method<Tipi>(r, info, [](const s4t::BuildContext&, const s4t::Options& o) {
    return std::make_shared<Tipi>(binding().read(o));
  });
}

}  // namespace

S4T_PLUGIN("s4t.tipi", "1.0.0", register_tipi)
