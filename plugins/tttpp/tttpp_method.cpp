// TTT++ (Liu et al., NeurIPS 2021) on the shared multi-task network (METHODS.md §2.4): a SimCLR head
// trained jointly with the tasks, source feature moments collected after source training, and at test
// time contrastive learning on two augmented views plus CORAL/mean alignment of the target features
// (encoder and head) to the source moments, with a FIFO queue of past target features.
#include <ATen/ATen.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "s4t/error.hpp"
#include "s4t/log.hpp"
#include "s4t/losses.hpp"
#include "s4t/method.hpp"
#include "s4t/norm.hpp"
#include "s4t/optimizer.hpp"
#include "s4t/plugin.hpp"
#include "s4t/tensor_ops.hpp"
#include <spdlog/spdlog.h>

namespace {

enum class LossMode { Both, Ssl, Align };

struct Settings {
  double weight = 1.0;
  bool fused = true;
  std::int64_t grid = 4, hidden = 2048, proj_dim = 128;
  double temperature = 0.5, base_temperature = 0.07;
  LossMode loss = LossMode::Both;
  bool align_encoder = true, align_head = true;
  double scale_ext = 0.05, scale_ssh = 0.2, mean_factor = 0.5;
  std::int64_t queue_size = 256;
  bool queue_reset = false;
  std::int64_t reference_chunks = 16;
  double crop_min = 0.2, jitter = 0.4, jitter_p = 0.8, gray_p = 0.2;
  bool adapt_head = false;
  s4t::NormMode adapt_norm = s4t::NormMode::TrainUpdate;
  s4t::NormMode predict_norm = s4t::NormMode::Eval;
  s4t::OptimizerSpec optimizer;
};

// ---------------------------------------------------------------------------------------------------
/// SimCLR head Linear(in, hidden)–ReLU–Linear(hidden, proj) plus the source moments as buffers.
class TTTPPModuleImpl : public torch::nn::Module {
 public:
  TTTPPModuleImpl(std::int64_t head_in, std::int64_t hidden, std::int64_t proj, std::int64_t enc_dim) {
    fc1 = register_module("fc1", torch::nn::Linear(head_in, hidden));
    fc2 = register_module("fc2", torch::nn::Linear(hidden, proj));
    enc_mean = register_buffer("enc_mean", at::zeros({enc_dim}));
    enc_cov = register_buffer("enc_cov", at::zeros({enc_dim, enc_dim}));
    head_mean = register_buffer("head_mean", at::zeros({proj}));
    head_cov = register_buffer("head_cov", at::zeros({proj, proj}));
    // Mean batch-level discrepancies between source chunks and the source moments: they normalise the
    // alignment terms so that `scale_ext` / `scale_ssh` are their typical size (as in the original).
    enc_coral_ref = register_buffer("enc_coral_ref", at::ones({1}));
    enc_mean_ref = register_buffer("enc_mean_ref", at::ones({1}));
    head_coral_ref = register_buffer("head_coral_ref", at::ones({1}));
    head_mean_ref = register_buffer("head_mean_ref", at::ones({1}));
    source_samples = register_buffer("source_samples", at::zeros({1}));
  }
  /// Unnormalised head output.
  at::Tensor head(const at::Tensor& x) { return fc2->forward(at::relu(fc1->forward(x))); }

  torch::nn::Linear fc1{nullptr}, fc2{nullptr};
  at::Tensor enc_mean, enc_cov, head_mean, head_cov;
  at::Tensor enc_coral_ref, enc_mean_ref, head_coral_ref, head_mean_ref, source_samples;
};
TORCH_MODULE(TTTPPModule);

/// Unbiased covariance of the rows of f (n × d).
at::Tensor covariance(const at::Tensor& f) {
  at::Tensor c = f - f.mean(0, true);
  return at::matmul(c.t(), c) / static_cast<double>(std::max<std::int64_t>(f.size(0) - 1, 1));
}
/// ‖Σs − Σt‖²_F / (4 d²)
at::Tensor coral(const at::Tensor& cs, const at::Tensor& ct) {
  const double d = static_cast<double>(cs.size(0));
  return (cs - ct).pow(2).sum() / (4.0 * d * d);
}
/// mean_k (μs,k − μt,k)²
at::Tensor mean_discrepancy(const at::Tensor& ms, const at::Tensor& mt) { return (ms - mt).pow(2).mean(); }

struct Embedding {
  at::Tensor encoder;  // N × C: globally pooled feature map (aligned to the source moments)
  at::Tensor head;     // N × P: unnormalised head output
};

class TTTPlusPlus final : public s4t::TTTMethod {
 public:
  TTTPlusPlus(const s4t::BuildContext& ctx, Settings s) : s_(std::move(s)), rng_(ctx.seed * 104729u + 3u) {}

  void attach(s4t::MultiTaskModel& model) override {
    const auto& info = model.feature_info();
    std::int64_t c = 0;
    if (s_.fused && info.fused_channels > 0) c = info.fused_channels;
    else if (!info.stage_channels.empty()) { c = info.stage_channels.back(); s_.fused = false; }
    if (c <= 0) throw s4t::PluginError("tttpp: the backbone offers neither a fused map nor stages");
    module_ = TTTPPModule(c * s_.grid * s_.grid, s_.hidden, s_.proj_dim, c);
  }
  std::shared_ptr<torch::nn::Module> module() override { return module_.ptr(); }

  bool has_source_objective() const override { return true; }
  bool has_post_training() const override { return true; }

  at::Tensor source_objective(s4t::MultiTaskModel& model, const s4t::Batch& batch, const s4t::ModelOutput&,
                              const std::map<std::string, at::Tensor>& main_losses) override {
    at::Tensor total = s4t::weighted_sum(model.tasks(), main_losses);
    if (s_.weight == 0.0) return total;
    return total + s_.weight * contrastive_loss(model, batch.images);
  }

  /// Source moments of the encoder and head features (network in eval mode, no gradient), and the mean
  /// discrepancy of source chunks of (queue_size + batch) samples to them, in one pass over the stream.
  void after_source_training(s4t::MultiTaskModel& model, s4t::BatchStream& source) override {
    at::NoGradGuard no_grad;
    auto& root = model.root();
    const bool was_training = root.is_training();
    root.eval();
    source.restart();
    s4t::Batch batch;
    at::Tensor sum_e, sum_ee, sum_h, sum_hh;  // double precision accumulators
    std::int64_t n = 0, chunk = 0, kept = 0, max_kept = 0;
    std::vector<at::Tensor> kept_e, kept_h;
    while (source.next(batch)) {
      Embedding e = embed(model, batch.images);
      at::Tensor fe = e.encoder.to(at::kDouble), fh = e.head.to(at::kDouble);
      if (!sum_e.defined()) {
        sum_e = fe.sum(0), sum_ee = at::matmul(fe.t(), fe), sum_h = fh.sum(0), sum_hh = at::matmul(fh.t(), fh);
        chunk = s_.queue_size + batch.size();
        max_kept = chunk * s_.reference_chunks;
      } else {
        sum_e += fe.sum(0), sum_ee += at::matmul(fe.t(), fe), sum_h += fh.sum(0), sum_hh += at::matmul(fh.t(), fh);
      }
      n += batch.size();
      if (kept < max_kept) {
        kept_e.push_back(e.encoder);
        kept_h.push_back(e.head);
        kept += batch.size();
      }
    }
    if (n < 2) throw s4t::DataError("tttpp: source statistics need at least 2 source images, got " + std::to_string(n));
    auto moments = [n](const at::Tensor& s, const at::Tensor& ss, at::Tensor& mean, at::Tensor& cov) {
      at::Tensor mu = s / static_cast<double>(n);
      at::Tensor c = (ss - static_cast<double>(n) * at::outer(mu, mu)) / static_cast<double>(n - 1);
      mean.copy_(mu);
      cov.copy_(c);
    };
    moments(sum_e, sum_ee, module_->enc_mean, module_->enc_cov);
    moments(sum_h, sum_hh, module_->head_mean, module_->head_cov);
    module_->source_samples.fill_(static_cast<double>(n));

    // Reference discrepancies on chunks the size of a target estimate (batch + full queue); with fewer
    // samples, smaller chunks (at least two, so that no chunk is the whole set the moments come from).
    at::Tensor all_e = at::cat(kept_e, 0), all_h = at::cat(kept_h, 0);
    const std::int64_t size = std::max<std::int64_t>(2, std::min(chunk, all_e.size(0) / 2));
    const std::int64_t chunks = std::max<std::int64_t>(1, all_e.size(0) / size);
    if (size < chunk)
      s4t::logger()->warn("tttpp: only {} source samples for the reference discrepancies: chunks of {} instead of {} "
                          "(queue_size + batch); the alignment terms will be smaller than scale_ext / scale_ssh",
                          all_e.size(0), size, chunk);
    auto reference = [&](const at::Tensor& all, const at::Tensor& mean, const at::Tensor& cov, at::Tensor& coral_ref,
                         at::Tensor& mean_ref) {
      at::Tensor c_sum = at::zeros({}, cov.options()), m_sum = at::zeros({}, cov.options());
      for (std::int64_t i = 0; i < chunks; ++i) {
        at::Tensor part = all.narrow(0, i * size, size);
        c_sum += coral(cov, covariance(part));
        m_sum += mean_discrepancy(mean, part.mean(0));
      }
      coral_ref.fill_((c_sum / static_cast<double>(chunks)).clamp_min(1e-12).item<double>());
      mean_ref.fill_((m_sum / static_cast<double>(chunks)).clamp_min(1e-12).item<double>());
    };
    reference(all_e, module_->enc_mean, module_->enc_cov, module_->enc_coral_ref, module_->enc_mean_ref);
    reference(all_h, module_->head_mean, module_->head_cov, module_->head_coral_ref, module_->head_mean_ref);
    stats_ready_ = true;
    s4t::logger()->info("tttpp: source moments from {} images (encoder {}-d, head {}-d); reference CORAL {:.4g} / "
                        "{:.4g} over {} chunks of {}",
                        n, module_->enc_mean.size(0), module_->head_mean.size(0), module_->enc_coral_ref.item<double>(),
                        module_->head_coral_ref.item<double>(), chunks, size);
    root.train(was_training);
  }

  s4t::AdaptationPolicy adaptation_policy(s4t::MultiTaskModel&) override {
    s4t::AdaptationPolicy p;
    const bool head = s_.adapt_head;
    // Only the SimCLR head's weights are parameters of method.*; the moments are buffers.
    p.selects = [head](const std::string& name) {
      return name.rfind("backbone.", 0) == 0 || (head && name.rfind("method.fc", 0) == 0);
    };
    p.adapt_norm = s_.adapt_norm;
    p.predict_norm = s_.predict_norm;
    p.optimizer = s_.optimizer;
    return p;
  }

  void begin_adaptation(s4t::MultiTaskModel&) override {
    if (s_.queue_reset) {
      queue_e_ = at::Tensor(), queue_h_ = at::Tensor();
      pending_e_ = at::Tensor(), pending_h_ = at::Tensor();
    }
  }

  at::Tensor adaptation_loss(s4t::MultiTaskModel& model, const at::Tensor& images, const s4t::AdaptContext& ctx) override {
    at::Tensor loss;
    auto add = [&loss](const at::Tensor& t) { loss = loss.defined() ? loss + t : t; };
    if (s_.loss != LossMode::Align) add(contrastive_loss(model, images));
    if (s_.loss != LossMode::Ssl && (s_.align_encoder || s_.align_head)) add(alignment_loss(model, images, ctx));
    return loss;
  }

 private:
  const at::Tensor& feature_map(const s4t::Features& f) const { return s_.fused ? f.fused : f.stages.back(); }

  Embedding embed(s4t::MultiTaskModel& model, const at::Tensor& images) {
    s4t::ForwardOptions fo;
    fo.stages_only = !s_.fused;
    s4t::Features f = model.features(images, fo);
    const at::Tensor& map = feature_map(f);
    Embedding e;
    e.encoder = map.mean({2, 3});
    at::Tensor grid = s_.grid == 1 ? e.encoder : at::adaptive_avg_pool2d(map, {s_.grid, s_.grid}).flatten(1);
    e.head = module_->head(grid);
    return e;
  }

  /// SimCLR / NT-Xent (SupConLoss without labels): two augmented views of every image; each of the 2N
  /// anchors has its other view as the positive and the other 2N − 2 embeddings as negatives; the loss is
  /// scaled by temperature / base_temperature as in the original.
  at::Tensor contrastive_loss(s4t::MultiTaskModel& model, const at::Tensor& images) {
    const std::int64_t n = images.size(0);
    at::Tensor views = at::cat({augment(images), augment(images)}, 0);
    at::Tensor z = embed(model, views).head;
    z = z / z.norm(2, {1}, true).clamp_min(1e-12);
    at::Tensor logits = at::matmul(z, z.t()) / s_.temperature;
    at::Tensor self = at::eye(2 * n, at::TensorOptions().dtype(at::kBool).device(z.device()));
    logits = logits.masked_fill(self, -1e9);
    at::Tensor positive = at::cat({at::arange(n, 2 * n), at::arange(0, n)}).to(z.device());
    at::Tensor log_prob = at::log_softmax(logits, 1).gather(1, positive.view({-1, 1}));
    return -(s_.temperature / s_.base_temperature) * log_prob.mean();
  }

  /// CORAL + mean alignment of the clean batch's features (with the queue of past target features) to the
  /// source moments, normalised by the source reference discrepancies.
  at::Tensor alignment_loss(s4t::MultiTaskModel& model, const at::Tensor& images, const s4t::AdaptContext& ctx) {
    if (!stats_ready_) {
      if (module_->source_samples.item<double>() <= 0.0)
        throw s4t::Error("tttpp: no source statistics (the checkpoint was not post-trained by tttpp); run "
                         "source training for tttpp, or set [method.tttpp] loss = \"ssl\"");
      stats_ready_ = true;
    }
    if (ctx.batch_index != current_batch_) {  // a new target batch: the previous one joins the queue
      enqueue(queue_e_, pending_e_);
      enqueue(queue_h_, pending_h_);
      pending_e_ = at::Tensor(), pending_h_ = at::Tensor();
      current_batch_ = ctx.batch_index;
    }
    Embedding e = embed(model, images);
    pending_e_ = e.encoder.detach();
    pending_h_ = e.head.detach();
    at::Tensor loss = at::zeros({}, e.encoder.options());
    auto term = [&](const at::Tensor& f, const at::Tensor& queue, const at::Tensor& mean, const at::Tensor& cov,
                    const at::Tensor& coral_ref, const at::Tensor& mean_ref, double scale) {
      at::Tensor all = queue.defined() ? at::cat({f, queue}, 0) : f;
      loss = loss + coral(cov, covariance(all)) * (scale / coral_ref) +
             mean_discrepancy(mean, all.mean(0)) * (scale * s_.mean_factor / mean_ref);
    };
    if (s_.align_encoder)
      term(e.encoder, queue_e_, module_->enc_mean, module_->enc_cov, module_->enc_coral_ref, module_->enc_mean_ref,
           s_.scale_ext);
    if (s_.align_head)
      term(e.head, queue_h_, module_->head_mean, module_->head_cov, module_->head_coral_ref, module_->head_mean_ref,
           s_.scale_ssh);
    return loss;
  }

  void enqueue(at::Tensor& queue, const at::Tensor& features) const {
    if (!features.defined() || s_.queue_size <= 0) return;
    at::Tensor q = queue.defined() ? at::cat({features, queue}, 0) : features;  // newest first
    queue = q.size(0) > s_.queue_size ? q.narrow(0, 0, s_.queue_size).clone() : q;
  }

  /// SimCLR-style views on normalised image tensors: random resized crop (area `crop_min`..1, aspect
  /// 3/4..4/3) back to the input size, horizontal flip (p 0.5), colour jitter (p `jitter_p`: brightness as
  /// a shift of ±`jitter` image standard deviations, contrast and saturation factors in 1 ± `jitter`; hue
  /// is not jittered), grayscale (p `gray_p`). Parameters come from the method's own seeded RNG, so no
  /// device synchronisation is needed.
  at::Tensor augment(const at::Tensor& images) {
    const std::int64_t n = images.size(0), h = images.size(2), w = images.size(3);
    std::uniform_real_distribution<double> u01(0.0, 1.0);
    auto uniform = [&](double a, double b) { return a + (b - a) * u01(rng_); };
    std::vector<at::Tensor> out;
    out.reserve(static_cast<size_t>(n));
    for (std::int64_t i = 0; i < n; ++i) {
      at::Tensor x = images.narrow(0, i, 1);
      // random resized crop
      std::int64_t ch = h, cw = w, top = 0, left = 0;
      for (int attempt = 0; attempt < 10; ++attempt) {
        const double area = uniform(s_.crop_min, 1.0) * static_cast<double>(h * w);
        const double ratio = std::exp(uniform(std::log(3.0 / 4.0), std::log(4.0 / 3.0)));
        const auto tw = static_cast<std::int64_t>(std::lround(std::sqrt(area * ratio)));
        const auto th = static_cast<std::int64_t>(std::lround(std::sqrt(area / ratio)));
        if (tw >= 1 && th >= 1 && tw <= w && th <= h) {
          ch = th, cw = tw;
          top = static_cast<std::int64_t>(u01(rng_) * static_cast<double>(h - th + 1));
          left = static_cast<std::int64_t>(u01(rng_) * static_cast<double>(w - tw + 1));
          top = std::min(top, h - th), left = std::min(left, w - tw);
          break;
        }
      }
      x = s4t::resize_bilinear(x.narrow(2, top, ch).narrow(3, left, cw), {h, w});
      if (u01(rng_) < 0.5) x = x.flip({3});
      if (u01(rng_) < s_.jitter_p) {
        const double b = uniform(-s_.jitter, s_.jitter), c = uniform(1.0 - s_.jitter, 1.0 + s_.jitter),
                     s = uniform(1.0 - s_.jitter, 1.0 + s_.jitter);
        at::Tensor mean = x.mean({1, 2, 3}, true);
        x = x + b * x.std();
        x = (x - mean) * c + mean;
        at::Tensor gray = x.mean(1, true);
        x = (x - gray) * s + gray;
      }
      if (u01(rng_) < s_.gray_p) x = x.mean(1, true).expand_as(x).contiguous();
      out.push_back(x);
    }
    return at::cat(out, 0);
  }

  Settings s_;
  std::mt19937_64 rng_;
  TTTPPModule module_{nullptr};
  bool stats_ready_ = false;
  at::Tensor queue_e_, queue_h_, pending_e_, pending_h_;
  std::int64_t current_batch_ = -1;
};

const char* kDoc =
    "TTT++ (Liu et al., NeurIPS 2021) on the shared multi-task network (METHODS.md 2.4).\n"
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

void register_tttpp(s4t::Registrar& r) {
  s4t::ComponentInfo info;
  info.name = "tttpp";
  info.version = "1.0.0";
  info.summary = "TTT++: SimCLR head + source feature moments; contrastive + CORAL/mean alignment at test time";
  info.doc = kDoc;
  info.schema.add_float("weight", 1.0, "weight of the SimCLR loss in the source objective", 0.0)
      .add_string("input", "fused", "feature map the head pools", {"fused", "last_stage"})
      .add_int("grid", 4, "the map is average-pooled to grid x grid and flattened as the head input", 1, 64)
      .add_int("hidden", 2048, "hidden width of the SimCLR head", 1, 65536)
      .add_int("proj_dim", 128, "output width of the SimCLR head", 1, 65536)
      .add_float("temperature", 0.5, "SimCLR temperature", 1e-6)
      .add_float("base_temperature", 0.07, "the loss is scaled by temperature / base_temperature", 1e-6)
      .add_string("loss", "both", "test-time loss: contrastive + alignment, or one of them", {"both", "ssl", "align"})
      .add_bool("align_encoder", true, "align the encoder features' moments")
      .add_bool("align_head", true, "align the head features' moments")
      .add_float("scale_ext", 0.05, "scale of the encoder alignment terms", 0.0)
      .add_float("scale_ssh", 0.2, "scale of the head alignment terms", 0.0)
      .add_float("mean_factor", 0.5, "extra factor of the mean-discrepancy terms", 0.0)
      .add_int("queue_size", 256, "past target feature vectors kept for the moment estimates (0 = none)", 0, 1000000)
      .add_bool("queue_reset", false, "clear the queue at the start of every episode")
      .add_int("reference_chunks", 16, "source chunks used for the reference discrepancies", 2, 1000000)
      .add_float("crop_min", 0.2, "smallest area fraction of the random resized crop", 0.01, 1.0)
      .add_float("jitter", 0.4, "colour-jitter strength", 0.0, 1.0)
      .add_float("jitter_p", 0.8, "probability of colour jitter", 0.0, 1.0)
      .add_float("gray_p", 0.2, "probability of grayscale", 0.0, 1.0)
      .add_bool("adapt_head", false, "also adapt the SimCLR head at test time")
      .add_string("adapt_norm", "train_update", "BatchNorm during adaptation", {"train_update", "train_frozen", "eval"})
      .add_string("predict_norm", "eval", "BatchNorm when predicting", {"train_update", "train_frozen", "eval"});
  s4t::OptimizerSpec opt;
  opt.name = "sgd";
  opt.lr = 0.01;
  opt.momentum = 0.9;
  s4t::add_optimizer_options(info.schema, opt);
  r.add_method(info, [](const s4t::BuildContext& ctx, const s4t::Options& o) {
    Settings s;
    s.weight = o.get_float("weight");
    s.fused = o.get_string("input") == "fused";
    s.grid = o.get_int("grid");
    s.hidden = o.get_int("hidden");
    s.proj_dim = o.get_int("proj_dim");
    s.temperature = o.get_float("temperature");
    s.base_temperature = o.get_float("base_temperature");
    const auto& l = o.get_string("loss");
    s.loss = l == "ssl" ? LossMode::Ssl : l == "align" ? LossMode::Align : LossMode::Both;
    s.align_encoder = o.get_bool("align_encoder");
    s.align_head = o.get_bool("align_head");
    s.scale_ext = o.get_float("scale_ext");
    s.scale_ssh = o.get_float("scale_ssh");
    s.mean_factor = o.get_float("mean_factor");
    s.queue_size = o.get_int("queue_size");
    s.queue_reset = o.get_bool("queue_reset");
    s.reference_chunks = o.get_int("reference_chunks");
    s.crop_min = o.get_float("crop_min");
    s.jitter = o.get_float("jitter");
    s.jitter_p = o.get_float("jitter_p");
    s.gray_p = o.get_float("gray_p");
    s.adapt_head = o.get_bool("adapt_head");
    s.adapt_norm = s4t::norm_mode_from_string(o.get_string("adapt_norm"));
    s.predict_norm = s4t::norm_mode_from_string(o.get_string("predict_norm"));
    s.optimizer = s4t::optimizer_from(o);
    return std::make_shared<TTTPlusPlus>(ctx, s);
  });
}

}  // namespace

S4T_PLUGIN("s4t.tttpp", "1.0.0", register_tttpp)
