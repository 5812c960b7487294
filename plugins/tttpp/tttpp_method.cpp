#include "tttpp_method.hpp"

#include <ATen/ATen.h>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "feature_moments.hpp"
#include "s4t/error.hpp"
#include "s4t/log.hpp"
#include "s4t/losses.hpp"
#include "s4t/parameter_selection.hpp"

namespace s4t::tttpp {

TTTPPModuleImpl::TTTPPModuleImpl(std::int64_t head_in, std::int64_t hidden, std::int64_t proj, std::int64_t enc_dim) {
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

at::Tensor TTTPPModuleImpl::head(const at::Tensor& x) { return fc2->forward(at::relu(fc1->forward(x))); }

TTTPlusPlus::TTTPlusPlus(const BuildContext&, Settings s) : s_(std::move(s)) {}

void TTTPlusPlus::attach(MultiTaskModel& model) {
  const auto& info = model.feature_info();
  std::int64_t c = 0;
  if (s_.fused && info.fused_channels > 0) c = info.fused_channels;
  else if (!info.stages.empty()) { c = info.stages.back().channels; s_.fused = false; }
  if (c <= 0) throw PluginError("tttpp: the backbone offers neither a fused map nor stages");
  module_ = TTTPPModule(c * s_.grid * s_.grid, s_.hidden, s_.proj_dim, c);
}

at::Tensor TTTPlusPlus::source_objective(MultiTaskModel& model, const Batch& batch, const ModelOutput&,
                                         const std::map<std::string, at::Tensor>& main_losses) {
  at::Tensor total = weighted_sum(model.tasks(), main_losses);
  if (s_.weight == 0.0) return total;
  return total + s_.weight * contrastive_loss(model, batch.images);
}

void TTTPlusPlus::after_source_training(MultiTaskModel& model, BatchStream& source) {
  at::NoGradGuard no_grad;
  auto& root = model.root();
  const bool was_training = root.is_training();
  root.eval();
  source.restart();
  Batch batch;
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
  if (n < 2) throw DataError("tttpp: source statistics need at least 2 source images, got " + std::to_string(n));
  moments_from_sums(sum_e, sum_ee, n, module_->enc_mean, module_->enc_cov);
  moments_from_sums(sum_h, sum_hh, n, module_->head_mean, module_->head_cov);
  module_->source_samples.fill_(static_cast<double>(n));

  // Reference discrepancies on chunks the size of a target estimate (batch + full queue); with fewer
  // samples, smaller chunks (at least two, so that no chunk is the whole set the moments come from).
  at::Tensor all_e = at::cat(kept_e, 0), all_h = at::cat(kept_h, 0);
  const std::int64_t size = std::max<std::int64_t>(2, std::min(chunk, all_e.size(0) / 2));
  const std::int64_t chunks = std::max<std::int64_t>(1, all_e.size(0) / size);
  if (size < chunk)
    log::warn("tttpp: only {} source samples for the reference discrepancies: chunks of {} instead of {} "
              "(queue_size + batch); the alignment terms will be smaller than scale_ext / scale_ssh",
              all_e.size(0), size, chunk);
  const auto enc = reference_discrepancy(all_e, module_->enc_mean, module_->enc_cov, chunks, size);
  module_->enc_coral_ref.fill_(enc.coral);
  module_->enc_mean_ref.fill_(enc.mean);
  const auto head = reference_discrepancy(all_h, module_->head_mean, module_->head_cov, chunks, size);
  module_->head_coral_ref.fill_(head.coral);
  module_->head_mean_ref.fill_(head.mean);
  stats_ready_ = true;
  log::info("tttpp: source moments from {} images (encoder {}-d, head {}-d); reference CORAL {:.4g} / {:.4g} over "
            "{} chunks of {}",
            n, module_->enc_mean.size(0), module_->head_mean.size(0), module_->enc_coral_ref.item<double>(),
            module_->head_coral_ref.item<double>(), chunks, size);
  root.train(was_training);
}

AdaptationPolicy TTTPlusPlus::adaptation_policy(MultiTaskModel&) {
  AdaptationPolicy p;
  std::vector<std::string> prefixes{kBackbonePrefix};
  // Only the SimCLR head's weights are parameters of the method module; the moments are buffers.
  if (s_.adapt_head) prefixes.push_back(std::string(kMethodPrefix) + "fc");
  p.selects = select_prefixes(prefixes);
  p.adapt_norm = s_.norm.adapt;
  p.predict_norm = s_.norm.predict;
  p.optimizer = s_.optimizer;
  return p;
}

void TTTPlusPlus::begin_adaptation(MultiTaskModel&) {
  if (s_.queue_reset) {
    queue_e_ = at::Tensor(), queue_h_ = at::Tensor();
    pending_e_ = at::Tensor(), pending_h_ = at::Tensor();
  }
}

at::Tensor TTTPlusPlus::adaptation_loss(MultiTaskModel& model, const at::Tensor& images, const AdaptContext& ctx) {
  at::Tensor loss;
  auto add = [&loss](const at::Tensor& t) { loss = loss.defined() ? loss + t : t; };
  if (s_.loss != LossMode::Align) add(contrastive_loss(model, images));
  if (s_.loss != LossMode::Ssl && (s_.align_encoder || s_.align_head)) add(alignment_loss(model, images, ctx));
  return loss;
}

Embedding TTTPlusPlus::embed(MultiTaskModel& model, const at::Tensor& images) {
  ForwardOptions fo;
  fo.stages_only = !s_.fused;
  Features f = model.features(images, fo);
  const at::Tensor& map = feature_map(f);
  Embedding e;
  e.encoder = map.mean({2, 3});
  at::Tensor grid = s_.grid == 1 ? e.encoder : at::adaptive_avg_pool2d(map, {s_.grid, s_.grid}).flatten(1);
  e.head = module_->head(grid);
  return e;
}

at::Tensor TTTPlusPlus::contrastive_loss(MultiTaskModel& model, const at::Tensor& images) {
  const std::int64_t n = images.size(0);
  at::Tensor views = at::cat({simclr_view(images, s_.views), simclr_view(images, s_.views)}, 0);
  at::Tensor z = embed(model, views).head;
  z = z / z.norm(2, {1}, true).clamp_min(1e-12);
  at::Tensor logits = at::matmul(z, z.t()) / s_.temperature;
  at::Tensor self = at::eye(2 * n, at::TensorOptions().dtype(at::kBool).device(z.device()));
  logits = logits.masked_fill(self, -1e9);
  at::Tensor positive = at::cat({at::arange(n, 2 * n), at::arange(0, n)}).to(z.device());
  at::Tensor log_prob = at::log_softmax(logits, 1).gather(1, positive.view({-1, 1}));
  return -(s_.temperature / s_.base_temperature) * log_prob.mean();
}

at::Tensor TTTPlusPlus::alignment_loss(MultiTaskModel& model, const at::Tensor& images, const AdaptContext& ctx) {
  if (!stats_ready_) {
    if (module_->source_samples.item<double>() <= 0.0)
      throw Error("tttpp: no source statistics (the checkpoint was not post-trained by tttpp); run "
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

void TTTPlusPlus::enqueue(at::Tensor& queue, const at::Tensor& features) const {
  if (!features.defined() || s_.queue_size <= 0) return;
  at::Tensor q = queue.defined() ? at::cat({features, queue}, 0) : features;  // newest first
  queue = q.size(0) > s_.queue_size ? q.narrow(0, 0, s_.queue_size).clone() : q;
}

}  // namespace s4t::tttpp
