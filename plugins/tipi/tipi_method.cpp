// TIPI (Nguyen et al., CVPR 2023; METHODS.md §2.2): make the model invariant to a small adversarial
// input perturbation — minimise KL(p(x + δ_adv) ‖ sg p(x)) (+ λ·entropy of p(x)) over the affine
// parameters of the normalisation layers, with a second BatchNorm "branch" for the perturbed passes.
//
// Multi-task adaptation [RECON]: the divergence is taken on the listed task outputs — per-pixel
// categorical KL on semseg's softmax (default), Bernoulli KL on a sigmoid task (edge), squared error
// on a regression task (depth, normals) — and the perturbation δ is applied to the shared input image.
#include <ATen/ATen.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/functional/instancenorm.h>  // instancenorm.h does not include what it uses (LibTorch 1.13)
#include <torch/nn/modules/instancenorm.h>
#include <torch/nn/modules/normalization.h>

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "s4t/error.hpp"
#include "s4t/log.hpp"
#include "s4t/method.hpp"
#include "s4t/norm.hpp"
#include "s4t/optimizer.hpp"
#include "s4t/plugin.hpp"
#include <spdlog/spdlog.h>

namespace {

// Full names (under the model root) of the affine parameters of every normalisation layer
// (BatchNorm, GroupNorm, LayerNorm, InstanceNorm), as TIPI's collect_params.
std::set<std::string> norm_affine_names(torch::nn::Module& root) {
  std::set<std::string> names;
  for (auto& item : root.named_modules(std::string(), /*include_self=*/false)) {
    auto* m = item.value().get();
    const bool norm = dynamic_cast<torch::nn::BatchNorm1dImpl*>(m) || dynamic_cast<torch::nn::BatchNorm2dImpl*>(m) ||
                      dynamic_cast<torch::nn::BatchNorm3dImpl*>(m) || dynamic_cast<torch::nn::GroupNormImpl*>(m) ||
                      dynamic_cast<torch::nn::LayerNormImpl*>(m) || dynamic_cast<torch::nn::InstanceNorm1dImpl*>(m) ||
                      dynamic_cast<torch::nn::InstanceNorm2dImpl*>(m) || dynamic_cast<torch::nn::InstanceNorm3dImpl*>(m);
    if (!norm) continue;
    for (auto& p : m->named_parameters(/*recurse=*/false)) names.insert(item.key() + "." + p.key());
  }
  return names;
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
  explicit Tipi(const s4t::Options& o)
      : task_names_(o.get_string_list("tasks")),
        epsilon_(o.get_float("epsilon")),
        input_std_(o.get_float_list("input_std")),
        random_init_(o.get_bool("random_init")),
        entropy_weight_(o.get_float("entropy_weight")),
        separate_adv_bn_(o.get_string("adv_norm") == "separate"),
        optimizer_(s4t::optimizer_from(o)) {
    if (input_std_.empty()) throw s4t::ConfigError("[method.tipi] input_std: give one value or one per input channel");
    for (double s : input_std_)
      if (s <= 0.0) throw s4t::ConfigError("[method.tipi] input_std: every value must be positive");
  }

  void attach(s4t::MultiTaskModel& model) override {
    terms_.clear();
    for (auto& name : task_names_) {
      const s4t::TaskSpec* spec = nullptr;
      for (auto& t : model.tasks())
        if (t.name == name) spec = &t;
      if (!spec) {
        s4t::logger()->warn("tipi: task '{}' is not a task of this model; it is left out of the loss", name);
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
    auto names = std::make_shared<std::set<std::string>>(norm_affine_names(model.root()));
    p.selects = [names](const std::string& name) { return names->count(name) > 0; };
    // The "main" branch: the clean pass uses batch statistics and updates the running statistics;
    // prediction uses those running statistics (TIPI evaluates in eval mode with the main branch).
    p.adapt_norm = s4t::NormMode::TrainUpdate;
    p.predict_norm = s4t::NormMode::Eval;
    p.optimizer = optimizer_;
    return p;
  }

  at::Tensor adaptation_loss(s4t::MultiTaskModel& model, const at::Tensor& images, const s4t::AdaptContext&) override {
    auto& root = model.root();
    const auto channels = images.size(1);
    if (input_std_.size() != 1 && static_cast<std::int64_t>(input_std_.size()) != channels)
      throw s4t::ConfigError("[method.tipi] input_std has " + std::to_string(input_std_.size()) +
                             " values but the images have " + std::to_string(channels) + " channels");
    // ε per channel in the normalised input space: a pixel-space step ε becomes ε / std_c.
    std::vector<double> eps(static_cast<size_t>(channels));
    for (std::int64_t c = 0; c < channels; ++c)
      eps[static_cast<size_t>(c)] = epsilon_ / input_std_[input_std_.size() == 1 ? 0 : static_cast<size_t>(c)];
    auto bound = at::tensor(eps, images.options()).view({1, channels, 1, 1});

    // Clean pass (main branch). With a zero initial perturbation the clean pass itself is the first
    // "perturbed" pass, so δ0 must be part of its graph.
    at::Tensor delta0 = random_init_ ? at::rand_like(images).mul(2.0).sub(1.0).mul(bound) : at::zeros_like(images);
    delta0.set_requires_grad(true);
    auto clean = model.forward(random_init_ ? images : images.add(delta0)).predictions;

    // Adversarial passes (the "adv" branch): batch statistics of the perturbed batch; with separate
    // branches they must not move the main branch's running statistics.
    if (separate_adv_bn_) s4t::apply_norm_mode(root, s4t::NormMode::TrainFrozen);
    at::Tensor adv_loss;
    std::map<std::string, at::Tensor> start = random_init_ ? model.forward(images.add(delta0)).predictions : clean;
    for (auto& term : terms_) {
      auto d = divergence(term.kind, start.at(term.task), clean.at(term.task).detach());
      adv_loss = adv_loss.defined() ? adv_loss.add(d) : d;
    }
    auto grad = torch::autograd::grad({adv_loss}, {delta0}, /*grad_outputs=*/{}, /*retain_graph=*/!random_init_,
                                      /*create_graph=*/false, /*allow_unused=*/true)[0];
    at::Tensor delta = delta0.detach();
    if (grad.defined()) delta = delta.add(grad.sign().mul(bound));
    delta = at::max(at::min(delta, bound), bound.neg());
    auto perturbed = model.forward(images.add(delta)).predictions;
    if (separate_adv_bn_) s4t::apply_norm_mode(root, s4t::NormMode::TrainUpdate);  // back to the main branch

    at::Tensor loss;
    for (auto& term : terms_) {
      auto t = divergence(term.kind, perturbed.at(term.task), clean.at(term.task).detach());
      if (entropy_weight_ != 0.0)
        if (auto h = entropy(term.kind, clean.at(term.task)); h.defined()) t = t.add(h.mul(entropy_weight_));
      loss = loss.defined() ? loss.add(t) : t;
    }
    return loss;
  }

 private:
  std::vector<std::string> task_names_;
  double epsilon_;
  std::vector<double> input_std_;
  bool random_init_;
  double entropy_weight_;
  bool separate_adv_bn_;
  s4t::OptimizerSpec optimizer_;
  std::vector<TaskTerm> terms_;
};

void register_tipi(s4t::Registrar& r) {
  s4t::ComponentInfo info;
  info.name = "tipi";
  info.version = "1.0.0";
  info.summary = "TIPI: invariance to an FGSM input perturbation (KL + entropy) on normalisation affine parameters";
  info.doc =
      "TIPI (Nguyen et al., CVPR 2023; METHODS.md 2.2). No source-time module; adapts from the shared base "
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
  info.schema.add_string_list("tasks", {"semseg"},
                              "task outputs compared between clean and perturbed inputs (softmax KL, Bernoulli KL "
                              "or squared error)");
  info.schema.add_float("epsilon", 2.0 / 255.0, "perturbation radius on the [0,1] pixel scale", 0.0, 1.0);
  info.schema.add_float_list("input_std", {0.229, 0.224, 0.225},
                             "per-channel std of the dataset's input normalisation (eps_c = epsilon / std_c)", 1e-6);
  info.schema.add_bool("random_init", true, "start the FGSM step from d0 ~ U[-eps, eps] (else d0 = 0)");
  info.schema.add_float("entropy_weight", 1.0, "weight of the entropy of the clean prediction", 0.0);
  info.schema.add_string("adv_norm", "separate",
                         "separate: perturbed passes do not update running statistics (dual BN); shared: they do",
                         {"separate", "shared"});
  s4t::OptimizerSpec d;
  d.name = "sgd";
  d.lr = 2.5e-4 / 64.0 * 8.0;
  d.momentum = 0.9;
  s4t::add_optimizer_options(info.schema, d);
  r.add_method(info, [](const s4t::BuildContext&, const s4t::Options& o) { return std::make_shared<Tipi>(o); });
}

}  // namespace

S4T_PLUGIN("s4t.tipi", "1.0.0", register_tipi)
