// Plugin entry: registers the `s4t` TTT method (Synchronizing Tasks for Test-time Training).
#include "s4t/error.hpp"
#include "s4t/optimizer.hpp"
#include "s4t/plugin.hpp"
#include "s4t_method.hpp"
#include "token_mask.hpp"

namespace s4t::s4t_method {

namespace {
OptimizerSpec optimizer_defaults() {
  OptimizerSpec d;
  d.name = "sgd";
  d.lr = 2e-5;
  d.momentum = 0.0;
  d.weight_decay = 1e-6;
  return d;
}

/// Sizes the TBS cannot be built with, reported before any model exists.
void check(const S4TSettings& s, const Options& o) {
  const std::string where = o.owner().empty() ? std::string("[method.s4t]") : o.owner();
  if (s.tbs_input_res % s.patch_size != 0)
    throw ConfigError(where + ": tbs_input_res (" + std::to_string(s.tbs_input_res) +
                      ") must be a multiple of patch_size (" + std::to_string(s.patch_size) + ")");
  if (s.embed_dim % 4 != 0 || s.embed_dim % s.heads != 0)
    throw ConfigError(where + ": embed_dim (" + std::to_string(s.embed_dim) +
                      ") must be divisible by 4 (sin-cos position embedding) and by heads (" +
                      std::to_string(s.heads) + ")");
  const auto dd = s.decoder_embed_dim > 0 ? s.decoder_embed_dim : s.embed_dim;
  const auto dh = s.decoder_heads > 0 ? s.decoder_heads : s.heads;
  if (dd % 4 != 0 || dd % dh != 0)
    throw ConfigError(where + ": decoder_embed_dim (" + std::to_string(dd) +
                      (s.decoder_embed_dim > 0 ? "" : ", = embed_dim") +
                      ") must be divisible by 4 (sin-cos position embedding) and by decoder_heads (" + std::to_string(dh) +
                      (s.decoder_heads > 0 ? "" : ", = heads") + ")");
  if (static_cast<std::int64_t>(static_cast<double>(s.embed_dim) * s.mlp_ratio) < 1 ||
      static_cast<std::int64_t>(static_cast<double>(dd) * s.mlp_ratio) < 1)
    throw ConfigError(where + ": mlp_ratio " + std::to_string(s.mlp_ratio) + " gives an empty MLP hidden layer");
  const auto grid = s.tbs_input_res / s.patch_size;
  if (tbs::visible_token_count(grid * grid, s.mask_ratio) < 1)
    throw ConfigError(where + ": mask_ratio " + std::to_string(s.mask_ratio) + " leaves no visible token of " +
                      std::to_string(grid * grid) + " (tbs_input_res / patch_size squared)");
  for (auto& a : s.adapt)
    if (a.empty()) throw ConfigError(where + ": adapt holds an empty prefix");
  if (s.double_task_weight && !s.ttt_task_weights.empty())
    throw ConfigError(where + ": set either double_task_weight or ttt_task_weights (explicit c_t), not both");
  if (s.double_task_weight && s.ttt_uncertainty)
    throw ConfigError(where + ": double_task_weight applies to ttt_weighting = \"fixed\" only (under \"uncertainty\" "
                      "the c_t are 1 unless ttt_task_weights gives them)");
}
}  // namespace

const Binding<S4TSettings>& s4t_binding() {
  using S = S4TSettings;
  static const auto b =
      Binding<S>()
          .integer("tbs_input_res", &S::tbs_input_res, 256,
                   "side of the square grid the stacked task latents are resized to before the TBS", 1, 8192)
          .integer("patch_size", &S::patch_size, 16, "TBS patch size (kernel = stride of the patch embedding)", 1,
                   1024)
          .integer("embed_dim", &S::embed_dim, 64,
                   "TBS encoder width, and the decoder's unless decoder_embed_dim is set (divisible by 4 and by heads)",
                   4, 4096)
          .integer("decoder_embed_dim", &S::decoder_embed_dim, 0,
                   "TBS decoder width (divisible by 4 and by decoder_heads); 0 = embed_dim (the released configs' "
                   "decoder_embed: 64)",
                   0, 4096)
          .integer("depth", &S::depth, 4, "TBS encoder blocks", 0, 64)
          .integer("decoder_depth", &S::decoder_depth, 2, "TBS decoder blocks", 0, 64)
          .integer("heads", &S::heads, 4, "attention heads of the TBS encoder blocks (and decoder blocks unless decoder_heads is set)", 1, 256)
          .integer("decoder_heads", &S::decoder_heads, 0,
                   "attention heads of the TBS decoder blocks; 0 = heads (the released configs' decoder_num_heads: 4)",
                   0, 256)
          .real("mlp_ratio", &S::mlp_ratio, 4.0, "TBS MLP hidden width / block width (encoder and decoder)", 0.0, 64.0)
          .integer("latent_channels", &S::latent_channels, 64, "channels of each task latent z_t", 1, 4096)
          .real("mask_ratio", &S::mask_ratio, 0.8,
                "fraction of TBS tokens masked on every forward pass (train, TTT, eval)", 0.0, 0.999)
          .choice("patch_embedding", &S::fold_embedding, "folded", {{"folded", true}, {"direct", false}},
                  "folded: the resize + patch embedding as one convolution on the latent grid where the "
                  "factor is integral (the same linear map, float-rounding differences only); direct: "
                  "materialise the resized latents first (the previous computation, bit for bit)")
          .choice("latent_projection", &S::per_stage_projection, "per_stage", {{"per_stage", true}, {"fused", false}},
                  "per_stage: where the backbone's fused map is its stages resized and concatenated (resnet), "
                  "apply ts_comp to each stage at its own resolution and resize the sums (the same linear map, "
                  "float-rounding differences only; ~6x less work at ResNet-50); fused: apply it to the fused "
                  "map (the previous computation, bit for bit)")
          .real("lambda_tp", &S::lambda_tp, 1.0,
                "source weight of the auxiliary latent-head losses (L^TP); the released NYUD/PASCAL configs use 0.01",
                0.0)
          .real("lambda_tbs_source", &S::lambda_tbs_source, 1.0,
                "source weight of the TBS losses (L^TBS); the released NYUD/PASCAL configs use 0.01", 0.0)
          .flag("auto_weight", &S::auto_weight, false,
                "source: uncertainty weighting sum_t 0.5 L_t/sigma_t^2 + log(1+sigma_t^2) with learnable sigma_t "
                "(Taskonomy-source code path) instead of w_t")
          .real("lambda_tbs", &S::lambda_tbs, 0.01, "test-time weight of the TBS consistency loss", 0.0)
          .flag("double_task_weight", &S::double_task_weight, false,
                "test time: weight task t by w_t^2 (the released code's quirk) instead of w_t")
          .reals("ttt_task_weights", &S::ttt_task_weights, {},
                 "test time: the task weights c_t, one per task in [tasks] names order (the released Taskonomy -> "
                 "NYUD/PASCAL code: 1, 1, 100, 2500); empty = from the tasks' loss weights (w_t, w_t^2 with "
                 "double_task_weight) under fixed weighting, 1 under uncertainty weighting",
                 0.0)
          .choice("ttt_weighting", &S::ttt_uncertainty, "fixed", {{"fixed", false}, {"uncertainty", true}},
                  "test time: fixed (lambda_tbs * sum_t c_t L1_t) or uncertainty (the released NYUD/PASCAL -> "
                  "Taskonomy code: sum_t 0.5 lambda_tbs c_t L1_t / sigma_t^2 + log(1 + sigma_t^2), sigma_t a "
                  "parameter method.ttt_sigma reset to 1 at every adaptation reset and adapted by the method's "
                  "optimizer)")
          .choice("normals_loss", &S::released_normals_loss, "spec",
                  {{"spec", false}, {"released_cosine_width", true}},
                  "source objective, normal_l1 tasks: the task's own loss (spec), or the released Taskonomy-source "
                  "quirk 1 - cosine along the width axis, unmasked (released_cosine_width)")
          .text("single_task", &S::single_task, "",
                "single-task S4T (supplement Table 5): only this task's latent feeds the TBS and only its term is "
                "in the losses of the TBS; empty = all tasks")
          .texts("adapt", &S::adapt, {"backbone", "method"},
                 "parameter-name prefixes adapted at test time (e.g. backbone, method, method.tbs, heads, or a "
                 "backbone submodule as backbone.<name>)")
          .group(&S::optimizer, optimizer_binding(optimizer_defaults()))
          .then(check);
  return b;
}

const char* s4t_doc() {
  return R"(S4T: Synchronizing Tasks for Test-time Training (Jeong et al., ICCV 2025); docs/methods.md#s4t.
Modules (registered as "method" in the model; all saved in checkpoints):
- ts_comp: one shared 1x1 conv (bias) from the backbone's fused map (3840 channels for ResNet-50) to
  T*latent_channels channels; channel slice t is the task latent z_t. When the backbone gives per-task
  features for every task (MTI-Net), ts_proj.<task> (a 1x1 conv per task to latent_channels) is used instead.
- aux_heads.<task>: 1x1 conv latent_channels -> K_t on z_t, bilinearly upsampled to the image (L^TP output).
- tbs: the Task Behavior Synchronizer, an MAE-style ViT with MAE/timm parameter names. The stacked
  latents are resized bilinearly (align_corners=false) to tbs_input_res^2; patch embedding conv
  (kernel=stride=patch_size) to embed_dim (computed as one strided convolution on the latent grid where
  the upsampling factor is integral and divides patch_size: the same linear map without the resized
  intermediate; `patch_embedding = "direct"` materialises it); fixed 2-D sin-cos position embeddings (buffers pos_embed and
  decoder_pos_embed, MAE recipe, no class token); per-sample random masking that keeps
  floor(N*(1-mask_ratio)) tokens, drawn from the torch RNG on every forward pass (source training,
  test-time training and evaluation alike); depth pre-norm blocks (heads, MLP ratio, GELU, qkv bias,
  LayerNorm eps 1e-6) and a final LayerNorm; decoder_embed Linear; a learned mask_token for every removed
  token; un-shuffle; + decoder_pos_embed; decoder_depth blocks (width decoder_embed_dim, decoder_heads
  heads; 0 = the encoder's embed_dim / heads); decoder_norm; decoder_pred Linear to
  patch^2 * sum_t K_t; un-patchify (patch pixels ordered row, column, channel) to sum_t K_t x res x res;
  split per task in task order; bilinear resize to the image size. Init (MAE): xavier-uniform for every
  Linear and for the patch-embedding weight viewed as a matrix, zero Linear biases, LayerNorm (1, 0),
  mask_token N(0, 0.02^2); the patch-embedding bias, ts_comp and aux heads keep PyTorch's default conv init.
  ResNet-50, K = (7, 1, 3, 1): ts_comp 983,296 + aux heads 780 + TBS 4,698,432 = 5,682,508 parameters.
Source objective (the method overrides source_objective, so it trains a separate source checkpoint):
  L = sum_t w_t l_t(main) + lambda_tp * sum_t w_t l_t(aux) + lambda_tbs_source * sum_t w_t l_t(TBS),
  with the tasks' supervised losses and weights w_t (an all-ignore semseg batch gives 0 for all three terms).
  Defaults 1/1 follow the supplement; the released NYUD/PASCAL configs use 0.01/0.01.
  auto_weight = true uses L = sum_t 0.5 L_t / sigma_t^2 + log(1 + sigma_t^2), L_t = l_t(main) (+ its
  deep-supervision terms) + lambda_tp l_t(aux) + lambda_tbs_source l_t(TBS), with learnable sigma_t (init 1,
  parameter method.auto_weight_sigma, so the optimizer trains and checkpoints keep it); w_t is not used;
  lambdas 1 give the released Taskonomy-source formula exactly; with normals_loss = "released_cosine_width"
  the normal_l1 tasks' main, aux and TBS terms use the release's Taskonomy-source quirk instead,
  1 - mean over (n, c, h) of the cosine along the width axis, every pixel counted (deep-supervision terms
  keep the spec's loss).
Test-time loss (adaptation_loss; the host runs it in train mode), L1_t = mean_pixels( sum_channels
  |TBS_t - sg(main_t)| ) on raw outputs (logits for semseg):
  ttt_weighting = "fixed": L = lambda_tbs * sum_t c_t L1_t, c_t = ttt_task_weights[t] when given, else w_t,
  or w_t^2 with double_task_weight = true (the released code applies the weight twice for NYUD/PASCAL
  targets: c = 1, 1, 100, 2500; Taskonomy-source tasks have w = 1, so give c there with ttt_task_weights).
  ttt_weighting = "uncertainty" (the released NYUD/PASCAL -> Taskonomy code): L = sum_t 0.5 lambda_tbs c_t
  L1_t / sigma_t^2 + log(1 + sigma_t^2), c_t = ttt_task_weights[t] or 1; sigma_t is the parameter
  method.ttt_sigma (one per task; in checkpoints at 1, never trained at the source), set to 1 at every
  begin_adaptation (each episode) and always adapted by the method's optimizer (also when `adapt` leaves
  out "method"). Main predictions are detached, so main heads get no gradient; aux heads are not in the
  loss. The label-peeking semseg skip of the released code is not reproduced.
Adaptation policy: parameters whose name equals or starts with one of `adapt` + "." adapt (default backbone
  and method: backbone, ts_comp, TBS); BatchNorm uses batch statistics and updates running statistics while
  adapting (TrainUpdate) and running statistics when predicting (Eval); optimizer SGD lr 2e-5, weight decay
  1e-6, momentum 0, constant lr (override in [method.s4t]).
single_task (supplement Table 5, our reading): the other tasks' latent channels are zeroed at the TBS input
  in every forward pass (source and test time), and only that task's TBS term is in the source and test-time
  losses (main and aux terms stay for all tasks during source training). Train the source model with the
  same setting: a TBS trained on all latents sees a shifted input otherwise.
task_latents (affinity analysis) returns the z_t.
Sizes are options so tiny models and CPU demos work (e.g. tbs_input_res 64, patch_size 4).)";
}

}  // namespace s4t::s4t_method

namespace {
void register_s4t(s4t::Registrar& r) {
  s4t::ComponentInfo info;
  info.name = "s4t";
  info.summary = "S4T: task latents + a masked-token ViT (TBS) that the main heads must agree with at test time";
  info.doc = s4t::s4t_method::s4t_doc();
  info.schema = s4t::s4t_method::s4t_binding().schema();
  s4t::add_method<s4t::s4t_method::S4TMethod>(r, info, [](const s4t::BuildContext&, const s4t::Options& o) {
    return std::make_shared<s4t::s4t_method::S4TMethod>(s4t::s4t_method::s4t_binding().read(o));
  });
}
}  // namespace

S4T_PLUGIN("s4t.s4t", "1.0.0", register_s4t)
