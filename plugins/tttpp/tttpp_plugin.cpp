// Plugin entry: registers the `tttpp` TTT method (TTT++, Liu et al., NeurIPS 2021).
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "s4t/option_binding.hpp"
#include "s4t/optimizer.hpp"
#include "s4t/plugin.hpp"
#include "tttpp_method.hpp"

namespace s4t::tttpp {
namespace {

const char* kDoc =
    "TTT++ (Liu et al., NeurIPS 2021) on the shared multi-task network (docs/methods.md#tttpp).\n"
    "Module: a SimCLR head Linear(D, `hidden`)-ReLU-Linear(`hidden`, `proj_dim` = 128) on pooled backbone "
    "features. It reads the fused map (`input`, default; 3840 channels for ResNet-50, the map every task head "
    "reads) average-pooled to a `grid` x `grid` grid and flattened, D = 3840 * 16 = 61,440 with the default "
    "grid 4. [RECON] Table 6's +125.9 M cannot come from the original 2048-2048-128 head (4.5 M); this head has "
    "126,093,440 parameters: 23,554,124 + 126,093,440 = 149.65 M vs Table 6's 149.40 M (+0.17 %). `grid = 1`, "
    "`hidden = 2048` on `input = \"last_stage\"` gives the original 4.46 M head on pooled C5.\n"
    "Source: L = sum_t w_t L_t + `weight` * L_ssl, with L_ssl the SimCLR NT-Xent loss (SupConLoss without "
    "labels: temperature 0.5, scaled by temperature / 0.07) on two augmented views of the batch (2N extra "
    "images per step). Views: random resized crop (scale 0.2-1, aspect 3/4-4/3), flip, colour jitter "
    "(p 0.8, strength 0.4) and grayscale (p 0.2), applied to the normalised tensors (brightness as a shift "
    "in image standard deviations; no hue jitter).\n"
    "Post-training (source statistics, buffers saved in the checkpoint): with the network in eval mode, the "
    "mean and unbiased covariance over the source stream of (a) the encoder feature = the global average of "
    "the same map (C-d: the 61,440-d head input would need a 15 GB covariance) and (b) the unnormalised head "
    "output (128-d); and the mean CORAL and mean discrepancy between chunks of (`queue_size` + batch) source "
    "samples and those moments (up to `reference_chunks` chunks), which normalise the alignment terms as "
    "in the original.\n"
    "Test (`loss = \"both\"`): L_ssl on two views of the target batch + for f in {encoder, head}: "
    "CORAL(S_s, S_t) * scale_f / ref_coral_f + mean((mu_s - mu_t)^2) * 0.5 * scale_f / ref_mean_f, with "
    "scale_ext 0.05, scale_ssh 0.2 (the released script), on the clean batch (one more forward pass). "
    "Covariance of a batch of 8 has rank <= 7, so the target moments use the batch plus a FIFO queue of up to "
    "`queue_size` detached features of previous target batches (a batch joins the queue once, with its "
    "features from its last step; the current batch is never duplicated). The queue lives in the method, not "
    "the checkpoint, so it survives episodic resets (past unlabeled target data, as in TTT++'s online "
    "variant); `queue_reset = true` clears it at every episode; `queue_size = 0` disables it. The original's "
    "`bnepoch` warm-up epochs (BN statistics only) are not reproduced.\n"
    "Adapted parameters [RECON]: the encoder = the whole backbone (fix_ssh, as in the released script); the "
    "head is frozen (`adapt_head` to adapt it too); task heads never adapt. BatchNorm: batch statistics with "
    "running-statistics updates while adapting (ext.train()), running statistics for prediction.\n"
    "Optimizer: SGD lr 0.01, momentum 0.9 (released script; its ReduceLROnPlateau is not reproduced).";

const Binding<Settings>& binding() {
  static const auto b = [] {
    OptimizerSpec opt;
    opt.name = "sgd";
    opt.lr = 0.01;
    opt.momentum = 0.9;
    const auto views = Binding<ViewSettings>()
        .real("crop_min", &ViewSettings::crop_min, 0.2, "smallest area fraction of the random resized crop", 0.01, 1.0)
        .real("jitter", &ViewSettings::jitter, 0.4, "colour-jitter strength", 0.0, 1.0)
        .real("jitter_p", &ViewSettings::jitter_p, 0.8, "probability of colour jitter", 0.0, 1.0)
        .real("gray_p", &ViewSettings::gray_p, 0.2, "probability of grayscale", 0.0, 1.0);
    return Binding<Settings>()
        .real("weight", &Settings::weight, 1.0, "weight of the SimCLR loss in the source objective", 0.0)
        .choice("input", &Settings::fused, "fused", {{"fused", true}, {"last_stage", false}},
                "feature map the head pools")
        .integer("grid", &Settings::grid, 4, "the map is average-pooled to grid x grid and flattened as the head input",
                 1, 64)
        .integer("hidden", &Settings::hidden, 2048, "hidden width of the SimCLR head", 1, 65536)
        .integer("proj_dim", &Settings::proj_dim, 128, "output width of the SimCLR head", 1, 65536)
        .real("temperature", &Settings::temperature, 0.5, "SimCLR temperature", 1e-6)
        .real("base_temperature", &Settings::base_temperature, 0.07,
              "the loss is scaled by temperature / base_temperature", 1e-6)
        .choice("loss", &Settings::loss, "both",
                {{"both", LossMode::Both}, {"ssl", LossMode::Ssl}, {"align", LossMode::Align}},
                "test-time loss: contrastive + alignment, or one of them")
        .flag("align_encoder", &Settings::align_encoder, true, "align the encoder features' moments")
        .flag("align_head", &Settings::align_head, true, "align the head features' moments")
        .real("scale_ext", &Settings::scale_ext, 0.05, "scale of the encoder alignment terms", 0.0)
        .real("scale_ssh", &Settings::scale_ssh, 0.2, "scale of the head alignment terms", 0.0)
        .real("mean_factor", &Settings::mean_factor, 0.5, "extra factor of the mean-discrepancy terms", 0.0)
        .integer("queue_size", &Settings::queue_size, 256,
                 "past target feature vectors kept for the moment estimates (0 = none)", 0, 1000000)
        .flag("queue_reset", &Settings::queue_reset, false, "clear the queue at the start of every episode")
        .integer("reference_chunks", &Settings::reference_chunks, 16,
                 "source chunks used for the reference discrepancies", 2, 1000000)
        .group(&Settings::views, views)
        .flag("adapt_head", &Settings::adapt_head, false, "also adapt the SimCLR head at test time")
        .group(&Settings::norm, norm_modes_binding({}))
        .group(&Settings::optimizer, optimizer_binding(opt));
  }();
  return b;
}

void register_tttpp(Registrar& r) {
  ComponentInfo info;
  info.name = "tttpp";
  info.summary = "TTT++: SimCLR head + source feature moments; contrastive + CORAL/mean alignment at test time";
  info.doc = kDoc;
  info.schema = binding().schema();
  add_method<TTTPlusPlus>(r, info, [](const BuildContext& ctx, const Options& o) {
    return std::make_shared<TTTPlusPlus>(ctx, binding().read(o));
  });
}

}  // namespace
}  // namespace s4t::tttpp

S4T_PLUGIN("s4t.tttpp", "1.0.0", s4t::tttpp::register_tttpp)
