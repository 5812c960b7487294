#include "engine/contracts.hpp"

#include <ATen/ops/logical_and.h>
#include <ATen/ops/ne.h>

#include <sstream>

#include "s4t/error.hpp"

namespace s4t::host {

namespace {
std::string shape_of(const at::Tensor& t) {
  if (!t.defined()) return "an undefined tensor";
  std::ostringstream out;
  out << t.sizes() << " " << t.scalar_type() << " on " << t.device();
  return out.str();
}

// A stage of stride s over an input of H pixels is floor or ceil of H / s pixels high.
bool consistent(std::int64_t size, std::int64_t input, std::int64_t stride) {
  return stride > 0 && (size == input / stride || size == (input + stride - 1) / stride);
}
}  // namespace

void check_features(const std::string& label, const FeatureInfo& info, const Features& f, const at::Tensor& images,
                    const ForwardOptions& options) {
  const auto declared = static_cast<std::int64_t>(info.stages.size());
  const auto expected = options.stop_after_stage >= 0 ? std::min(declared, options.stop_after_stage + 1) : declared;
  const auto got = static_cast<std::int64_t>(f.stages.size());
  if (got != expected)
    throw PluginError(label + " returned " + std::to_string(got) + " stages, but its FeatureInfo declares " +
                      std::to_string(declared) +
                      (options.stop_after_stage >= 0 ? " and stop_after_stage = " + std::to_string(options.stop_after_stage) +
                                                           " asks for " + std::to_string(expected)
                                                     : std::string()));
  const auto n = images.size(0), h = images.size(2), w = images.size(3);
  for (std::int64_t k = 0; k < got; ++k) {
    const auto& s = f.stages[static_cast<std::size_t>(k)];
    const auto& d = info.stages[static_cast<std::size_t>(k)];
    const bool ok = s.defined() && s.dim() == 4 && s.size(0) == n && s.size(1) == d.channels &&
                    consistent(s.size(2), h, d.stride) && consistent(s.size(3), w, d.stride) &&
                    s.device() == images.device();
    if (!ok)
      throw PluginError(label + ": stage " + std::to_string(k) + " is " + shape_of(s) + ", but FeatureInfo declares " +
                        std::to_string(d.channels) + " channels at stride " + std::to_string(d.stride) + " (" +
                        std::to_string(n) + "x" + std::to_string(d.channels) + "x~" + std::to_string(h / d.stride) +
                        "x~" + std::to_string(w / d.stride) + " for this input) on " + images.device().str());
  }
  if (!options.needs_decoder()) return;
  if (info.fused_channels > 0) {
    const auto& fu = f.fused;
    if (!fu.defined() || fu.dim() != 4 || fu.size(0) != n || fu.size(1) != info.fused_channels ||
        fu.size(2) != info.fused_size[0] || fu.size(3) != info.fused_size[1])
      throw PluginError(label + ": the fused map is " + shape_of(fu) + ", but FeatureInfo declares " +
                        std::to_string(info.fused_channels) + " channels on a " + std::to_string(info.fused_size[0]) +
                        "x" + std::to_string(info.fused_size[1]) + " grid");
  }
  for (auto& [task, channels] : info.task_feature_channels) {
    auto it = f.task_features.find(task);
    if (it == f.task_features.end() || !it->second.defined() || it->second.dim() != 4 ||
        it->second.size(1) != channels)
      throw PluginError(label + ": task features of '" + task + "' are " +
                        (it == f.task_features.end() ? std::string("missing") : shape_of(it->second)) +
                        ", but FeatureInfo declares " + std::to_string(channels) + " channels");
  }
}

void check_prediction(const std::string& label, const TaskSpec& task, const at::Tensor& p, const at::Tensor& images,
                      std::array<std::int64_t, 2> size) {
  const bool ok = p.defined() && p.dim() == 4 && p.is_floating_point() && p.size(0) == images.size(0) &&
                  p.size(1) == task.channels && p.size(2) == size[0] && p.size(3) == size[1] &&
                  p.device() == images.device();
  if (!ok)
    throw PluginError(label + ": the prediction for task '" + task.name + "' is " + shape_of(p) + "; expected a float " +
                      std::to_string(images.size(0)) + "x" + std::to_string(task.channels) + "x" + std::to_string(size[0]) +
                      "x" + std::to_string(size[1]) + " tensor on " + images.device().str());
}

void check_sample(const std::string& label, const std::vector<TaskSpec>& tasks, const Sample& s, std::int64_t index) {
  const std::string where = label + ", sample " + std::to_string(index) + ": ";
  if (!s.image.defined() || s.image.dim() != 3 || s.image.size(0) != 3 || !s.image.is_floating_point())
    throw DataError(where + "the image is " + shape_of(s.image) + "; expected a float 3xHxW tensor");
  const auto h = s.image.size(1), w = s.image.size(2);
  for (auto& t : tasks) {
    auto target = s.targets.find(t.name);
    auto mask = s.masks.find(t.name);
    if (target == s.targets.end() || mask == s.masks.end())
      throw DataError(where + "no " + std::string(target == s.targets.end() ? "target" : "mask") + " for task '" +
                      t.name + "', which the dataset declares");
    const auto& y = target->second;
    const auto& m = mask->second;
    if (!m.defined() || m.scalar_type() != at::kBool || m.dim() != 3 || m.size(0) != 1 || m.size(1) != h || m.size(2) != w)
      throw DataError(where + "the mask of '" + t.name + "' is " + shape_of(m) + "; expected a bool 1x" +
                      std::to_string(h) + "x" + std::to_string(w) + " tensor");
    if (t.kind == TaskKind::Classification) {
      if (!y.defined() || y.scalar_type() != at::kLong || y.dim() != 2 || y.size(0) != h || y.size(1) != w)
        throw DataError(where + "the target of '" + t.name + "' is " + shape_of(y) + "; expected an int64 " +
                        std::to_string(h) + "x" + std::to_string(w) + " label map");
      auto valid = y.ne(t.ignore_index);
      auto labels = y.masked_select(valid);
      if (labels.numel() > 0) {
        const auto lo = labels.min().item<std::int64_t>(), hi = labels.max().item<std::int64_t>();
        if (lo < 0 || hi >= t.channels)
          throw DataError(where + "the target of '" + t.name + "' holds label " + std::to_string(lo < 0 ? lo : hi) +
                          "; expected 0.." + std::to_string(t.channels - 1) + " or the ignore index " +
                          std::to_string(t.ignore_index));
      }
    } else if (!y.defined() || !y.is_floating_point() || y.dim() != 3 || y.size(0) != t.channels || y.size(1) != h ||
               y.size(2) != w) {
      throw DataError(where + "the target of '" + t.name + "' is " + shape_of(y) + "; expected a float " +
                      std::to_string(t.channels) + "x" + std::to_string(h) + "x" + std::to_string(w) + " tensor");
    }
  }
}

}  // namespace s4t::host
