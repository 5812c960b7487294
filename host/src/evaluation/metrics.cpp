#include "evaluation/metrics.hpp"

#include <ATen/ATen.h>

#include <cmath>
#include <limits>

#include "s4t/collectives.hpp"
#include "s4t/error.hpp"

namespace s4t {

MetricAccumulator::~MetricAccumulator() = default;

void MetricAccumulator::all_reduce(Collectives& collectives, const at::Device& device) {
  // One flat float64 CPU tensor per accumulator: [seen, sums...], so a rank that saw nothing (undefined
  // sums) still contributes zeros of the right size, and "nobody saw anything" stays distinguishable
  // from "saw only ignored pixels" (the former keeps value() NaN, as in a single-process run).
  auto entries = state();
  bool seen = false;
  std::vector<at::Tensor> parts{at::zeros({1}, at::kDouble)};
  for (const auto& e : entries) {
    std::int64_t n = 1;
    for (auto d : e.shape) n *= d;
    if (e.tensor->defined()) {
      seen = true;
      if (e.tensor->numel() != n) throw Error("metric all-reduce: a sum has " + std::to_string(e.tensor->numel()) +
                                              " elements, expected " + std::to_string(n));
      parts.push_back(e.tensor->detach().to(at::kCPU, at::kDouble).flatten());
    } else {
      parts.push_back(at::zeros({n}, at::kDouble));
    }
  }
  parts[0].fill_(seen ? 1.0 : 0.0);
  std::vector<at::Tensor> flat{at::cat(parts).to(device)};
  collectives.all_reduce_sum(flat);
  flat[0] = flat[0].to(at::kCPU);
  if (flat[0][0].item<double>() == 0.0) {
    reset();
    return;
  }
  std::int64_t offset = 1;
  for (const auto& e : entries) {
    std::int64_t n = 1;
    for (auto d : e.shape) n *= d;
    *e.tensor = flat[0].narrow(0, offset, n).reshape(e.shape).clone();
    offset += n;
  }
}

namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

at::Tensor activate(const at::Tensor& p, Activation a) {
  switch (a) {
    case Activation::Sigmoid: return p.sigmoid();
    case Activation::Softmax: return p.softmax(1);
    case Activation::None: return p;
  }
  return p;
}

// Lazily creates a float64 accumulator on the device of `like` (or moves it there).
void ensure(at::Tensor& acc, const at::Tensor& like, at::IntArrayRef shape = {}) {
  if (!acc.defined()) acc = at::zeros(shape, like.options().dtype(at::kDouble));
  else if (acc.device() != like.device()) acc = acc.to(like.device());
}

template <typename T>
const T& same_kind(const MetricAccumulator& other) {
  auto* o = dynamic_cast<const T*>(&other);
  if (!o) throw Error("merging metric accumulators of different kinds");
  return *o;
}

void add_into(at::Tensor& acc, const at::Tensor& other) {
  if (!other.defined()) return;
  if (!acc.defined()) acc = other.clone();
  else acc.add_(other.to(acc.device()));
}
}  // namespace

// ---------------------------------------------------------------- mIoU
MeanIoU::MeanIoU(std::int64_t classes, std::int64_t ignore_index) : classes_(classes), ignore_index_(ignore_index) {}

void MeanIoU::update(const at::Tensor& prediction, const at::Tensor& target, const at::Tensor& mask) {
  auto predicted = prediction.argmax(1);
  auto t = target;
  if (mask.defined()) t = at::where(mask.reshape_as(target), target, at::full_like(target, ignore_index_));
  update_labels(predicted, t);
}

void MeanIoU::update_labels(const at::Tensor& predicted, const at::Tensor& target) {
  const auto k = classes_;
  ensure(confusion_, predicted, {k * k});
  auto t = target.to(at::kLong).flatten();
  auto p = predicted.to(at::kLong).flatten();
  auto valid = t.ne(ignore_index_).logical_and(t.ge(0)).logical_and(t.lt(k));
  // Invalid pixels go to an extra bin that is dropped: no data-dependent shapes, no host sync.
  auto index = at::where(valid, t.mul(k).add(p), at::full_like(t, k * k));
  auto counts = at::zeros({k * k + 1}, confusion_.options());
  counts.index_add_(0, index, at::ones_like(index, confusion_.options()));
  confusion_.add_(counts.narrow(0, 0, k * k));
}

double MeanIoU::value() const {
  if (!confusion_.defined()) return kNaN;
  auto c = confusion_.to(at::kCPU).reshape({classes_, classes_});
  auto tp = c.diagonal();
  auto denom = c.sum(1).add(c.sum(0)).sub(tp);
  auto iou = at::where(denom.gt(0), tp.div(denom.clamp_min(1)), at::zeros_like(tp));
  return iou.mean().item<double>() * 100.0;
}

void MeanIoU::reset() { confusion_ = at::Tensor(); }
std::vector<MetricAccumulator::StateEntry> MeanIoU::state() { return {{&confusion_, {classes_ * classes_}}}; }
void MeanIoU::merge(const MetricAccumulator& other) { add_into(confusion_, same_kind<MeanIoU>(other).confusion_); }
std::unique_ptr<MetricAccumulator> MeanIoU::clone_empty() const {
  return std::make_unique<MeanIoU>(classes_, ignore_index_);
}

// ---------------------------------------------------------------- RMSE
Rmse::Rmse(bool aligned, Activation activation, bool clamp_nonnegative)
    : aligned_(aligned), clamp_(clamp_nonnegative), activation_(activation) {}

void Rmse::update(const at::Tensor& prediction, const at::Tensor& target, const at::Tensor& mask) {
  ensure(squared_sum_, prediction);
  ensure(count_, prediction);
  auto p = activate(prediction, activation_).to(at::kDouble);
  if (clamp_) p = p.clamp_min(0.0);
  auto g = target.to(at::kDouble);
  auto m = (mask.defined() ? mask : at::ones_like(g, g.options().dtype(at::kBool))).to(at::kDouble).expand_as(p);
  auto n = m.sum();
  if (aligned_) {
    // Least-squares s, b minimising Σ m (s·p + b − g)² over this batch; degenerate fits use s = 0.
    auto sp = p.mul(m).sum(), sg = g.mul(m).sum();
    auto spp = p.mul(p).mul(m).sum(), spg = p.mul(g).mul(m).sum();
    auto denom = n.mul(spp).sub(sp.mul(sp));
    auto ok = denom.abs().gt(1e-12);
    auto s = at::where(ok, n.mul(spg).sub(sp.mul(sg)).div(at::where(ok, denom, at::ones_like(denom))),
                       at::zeros_like(denom));
    auto b = sg.sub(s.mul(sp)).div(n.clamp_min(1.0));
    p = p.mul(s).add(b);
  }
  squared_sum_.add_(p.sub(g).pow(2).mul(m).sum());
  count_.add_(n);
}

double Rmse::value() const {
  if (!count_.defined()) return kNaN;
  double n = count_.item<double>();
  if (n <= 0) return kNaN;
  return std::sqrt(squared_sum_.item<double>() / n);
}
void Rmse::reset() { squared_sum_ = at::Tensor(); count_ = at::Tensor(); }
std::vector<MetricAccumulator::StateEntry> Rmse::state() { return {{&squared_sum_, {}}, {&count_, {}}}; }
void Rmse::merge(const MetricAccumulator& other) {
  auto& o = same_kind<Rmse>(other);
  add_into(squared_sum_, o.squared_sum_);
  add_into(count_, o.count_);
}
std::unique_ptr<MetricAccumulator> Rmse::clone_empty() const {
  return std::make_unique<Rmse>(aligned_, activation_, clamp_);
}

// ---------------------------------------------------------------- angular error
AngularError::AngularError() = default;

void AngularError::update(const at::Tensor& prediction, const at::Tensor& target, const at::Tensor& mask) {
  ensure(angle_sum_, prediction);
  ensure(count_, prediction);
  auto unit = [](const at::Tensor& x) { return x.div(x.norm(2, {1}, true).clamp_min(1e-12)); };
  auto p = unit(prediction.to(at::kDouble)), g = unit(target.to(at::kDouble));
  auto angle = at::atan2(p.sub(g).norm(2, {1}), p.add(g).norm(2, {1})).mul(2.0 * 180.0 / M_PI);  // N×H×W
  auto m = mask.defined() ? mask.to(at::kDouble).reshape_as(angle) : at::ones_like(angle);
  angle_sum_.add_(angle.mul(m).sum());
  count_.add_(m.sum());
}
double AngularError::value() const {
  if (!count_.defined()) return kNaN;
  double n = count_.item<double>();
  return n > 0 ? angle_sum_.item<double>() / n : kNaN;
}
void AngularError::reset() { angle_sum_ = at::Tensor(); count_ = at::Tensor(); }
std::vector<MetricAccumulator::StateEntry> AngularError::state() { return {{&angle_sum_, {}}, {&count_, {}}}; }
void AngularError::merge(const MetricAccumulator& other) {
  auto& o = same_kind<AngularError>(other);
  add_into(angle_sum_, o.angle_sum_);
  add_into(count_, o.count_);
}
std::unique_ptr<MetricAccumulator> AngularError::clone_empty() const { return std::make_unique<AngularError>(); }

std::unique_ptr<MetricAccumulator> make_metric(const TaskSpec& task) {
  switch (task.metric) {
    case MetricKind::MeanIoU: return std::make_unique<MeanIoU>(task.channels, task.ignore_index);
    case MetricKind::Rmse: return std::make_unique<Rmse>(false, task.activation, task.clamp_nonnegative);
    case MetricKind::AlignedRmse: return std::make_unique<Rmse>(true, task.activation, task.clamp_nonnegative);
    case MetricKind::AngularError: return std::make_unique<AngularError>();
  }
  throw Error("unknown metric for task '" + task.name + "'");
}

// ---------------------------------------------------------------- Δ_TTT
double relative_gain(double base, double value, bool higher_is_better) {
  double g = (value - base) / base * 100.0;
  return higher_is_better ? g : -g;
}

std::vector<bool> higher_is_better(const std::vector<TaskSpec>& tasks) {
  std::vector<bool> higher;
  for (auto& t : tasks) higher.push_back(t.higher_is_better);
  return higher;
}

double delta_ttt(const std::vector<double>& base, const std::vector<double>& values,
                 const std::vector<bool>& higher_is_better) {
  if (base.size() != values.size() || base.size() != higher_is_better.size() || base.empty())
    throw Error("delta_ttt: base, values and directions must have the same, non-zero length");
  double sum = 0.0;
  for (size_t t = 0; t < base.size(); ++t) sum += relative_gain(base[t], values[t], higher_is_better[t]);
  return sum / static_cast<double>(base.size());
}

}  // namespace s4t
