#include "distributed/sharded_adaptation.hpp"

#include <ATen/ATen.h>

#include <algorithm>

#include "config/experiment.hpp"
#include "distributed/process_group.hpp"
#include "run/logging.hpp"
#include "s4t/collectives.hpp"
#include "s4t/error.hpp"

namespace s4t::host {

std::shared_ptr<Collectives> adaptation_group() {
  auto group = collectives();
  return group && group->world_size() > 1 ? group : nullptr;
}

void start_sharded_adaptation(const Experiment& x) {
  join_distributed_run(x);
  const std::string protocol = x.section("ttt").get_string("protocol");
  auto group = adaptation_group();
  if (group && protocol == "online")
    throw ConfigError("[ttt] protocol = \"online\" carries the adapted weights from batch to batch, so it cannot be "
                      "split over the " + std::to_string(group->world_size()) +
                      " ranks of this distributed run; run it in a single process, or use protocol = \"episodic\" "
                      "or \"single_batch_then_eval\"");
  if (group && x.section("ttt").get_string("stream") != "single")
    throw ConfigError("[ttt] stream = \"" + x.section("ttt").get_string("stream") + "\" adapts along one ordered stream of "
                      "target domains, which this version does not split over the " + std::to_string(group->world_size()) +
                      " ranks of a distributed run; run it in a single process");
  const std::string reset = x.section("ttt").get_string("reset");
  if (group && (reset == "never" || reset == "per_domain"))
    throw ConfigError("[ttt] reset = \"" + reset + "\" carries the adapted weights from batch to batch, so it cannot be split "
                      "over the ranks of a distributed run; run it in a single process, or use reset = \"per_batch\"");
  if (group)
    logger()->info("test-time adaptation on {} ranks: each evaluates one shard of the target set ({} protocol); "
                   "the results are summed over the ranks", group->world_size(), protocol);
}

LoaderOptions sharded(LoaderOptions options) {
  if (auto group = adaptation_group()) {
    options.shard_index = group->rank();
    options.shard_count = group->world_size();
  }
  return options;
}

namespace {
// Sums integer counters over the ranks (float64 holds them exactly up to 2^53).
void sum_counts(Collectives& group, const std::vector<std::int64_t*>& counts, const at::Device& device) {
  if (counts.empty()) return;
  auto t = at::empty({static_cast<std::int64_t>(counts.size())}, at::kDouble);
  for (std::size_t i = 0; i < counts.size(); ++i) t[static_cast<std::int64_t>(i)] = static_cast<double>(*counts[i]);
  std::vector<at::Tensor> buffer{t.to(device)};
  group.all_reduce_sum(buffer);
  auto sums = buffer[0].to(at::kCPU);
  for (std::size_t i = 0; i < counts.size(); ++i)
    *counts[i] = static_cast<std::int64_t>(sums[static_cast<std::int64_t>(i)].item<double>());
}
}  // namespace

void all_reduce_pass(std::vector<std::vector<std::unique_ptr<MetricAccumulator>>>& per_step,
                     const std::vector<std::int64_t*>& counts, const at::Device& device) {
  auto group = adaptation_group();
  if (!group) return;
  for (auto& step : per_step)
    for (auto& acc : step) acc->all_reduce(*group, device);
  sum_counts(*group, counts, device);
}

void all_reduce_counts(const std::vector<std::int64_t*>& counts, const at::Device& device) {
  if (auto group = adaptation_group()) sum_counts(*group, counts, device);
}

void all_reduce_losses(std::vector<double>& loss_sum, std::vector<std::int64_t>& loss_count, std::int64_t steps,
                       const at::Device& device) {
  auto group = adaptation_group();
  if (!group) return;
  const auto local = static_cast<std::int64_t>(loss_sum.size());
  if (local > steps || static_cast<std::int64_t>(loss_count.size()) != local)
    throw Error("sharded adaptation: " + std::to_string(local) + " per-step losses recorded for " +
                std::to_string(steps) + " steps");
  // Rows: sums, counts, and whether this rank's vectors reach the step (so the result is as long as the
  // longest rank's, as a single process that saw every batch would have it).
  auto t = at::zeros({3, std::max<std::int64_t>(steps, 1)}, at::kDouble);
  for (std::int64_t i = 0; i < local; ++i) {
    t[0][i] = loss_sum[i];
    t[1][i] = static_cast<double>(loss_count[i]);
    t[2][i] = 1.0;
  }
  std::vector<at::Tensor> buffer{t.to(device)};
  group->all_reduce_sum(buffer);
  auto sums = buffer[0].to(at::kCPU);
  std::int64_t length = 0;
  for (std::int64_t i = 0; i < steps; ++i)
    if (sums[2][i].item<double>() > 0) length = i + 1;
  loss_sum.assign(length, 0.0);
  loss_count.assign(length, 0);
  for (std::int64_t i = 0; i < length; ++i) {
    loss_sum[i] = sums[0][i].item<double>();
    loss_count[i] = static_cast<std::int64_t>(sums[1][i].item<double>());
  }
}

LocalBatchNorm::LocalBatchNorm() : previous_(sync_batch_norm_enabled()) { set_sync_batch_norm(false); }
LocalBatchNorm::~LocalBatchNorm() { set_sync_batch_norm(previous_); }

}  // namespace s4t::host
