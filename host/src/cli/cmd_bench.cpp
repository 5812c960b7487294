// `s4t bench CONFIG`: times one source-training step, one test-time-training step and one inference
// forward of the configured network and method on random data of the configured size, next to a
// reference measured in the same process (a plain supervised step of the same network without the
// method's modules), and prints the ratios.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/nn/module.h>
#include <torch/optim/optimizer.h>
#include <torch/utils.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <iomanip>
#include <iostream>

#include "cli/arguments.hpp"
#include "cli/commands.hpp"
#include "engine/optimizers.hpp"
#include "engine/setup.hpp"
#include "s4t/error.hpp"
#include "s4t/losses.hpp"
#include "s4t_host/adaptation_session.hpp"

namespace s4t::host {

namespace {
using Clock = std::chrono::steady_clock;

Batch random_batch(const std::vector<TaskSpec>& tasks, std::int64_t n, std::int64_t h, std::int64_t w,
                   const at::Device& device) {
  Batch b;
  b.images = at::randn({n, 3, h, w}, at::TensorOptions().device(device));
  for (auto& t : tasks) {
    if (t.kind == TaskKind::Classification)
      b.targets[t.name] = at::randint(0, t.channels, {n, h, w}, at::TensorOptions().dtype(at::kLong).device(device));
    else if (t.loss == LossKind::NormalL1) {
      auto v = at::randn({n, 3, h, w}, at::TensorOptions().device(device));
      b.targets[t.name] = v.div(v.norm(2, {1}, true));
    } else {
      b.targets[t.name] = at::rand({n, t.channels, h, w}, at::TensorOptions().device(device)).round();
    }
    b.masks[t.name] = at::ones({n, 1, h, w}, at::TensorOptions().dtype(at::kBool).device(device));
  }
  return b;
}

// Peak resident memory of the process (VmHWM), in MiB; 0 where /proc is unavailable.
double peak_rss_mib() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  return 0.0;
}

void sync(const at::Device& d) {
  if (d.is_cuda()) at::ones({1}, at::TensorOptions().device(d)).cpu();  // waits for queued kernels
}

template <typename F>
double median_ms(int warmup, int iterations, const at::Device& device, F&& body) {
  for (int i = 0; i < warmup; ++i) body();
  std::vector<double> times;
  for (int i = 0; i < iterations; ++i) {
    sync(device);
    auto t0 = Clock::now();
    body();
    sync(device);
    times.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}
}  // namespace

int cmd_bench(const std::vector<std::string>& args) {
  CommonArgs common;
  std::string config, method, size_text;
  int iterations = 5, warmup = 2;
  std::int64_t batch_size = 0;
  po::options_description options("s4t bench options");
  add_common_options(options, common);
  options.add_options()
      ("method", po::value<std::string>(&method), "method (default [ttt] method)")
      ("iterations", po::value<int>(&iterations), "timed iterations per measurement (median reported)")
      ("warmup", po::value<int>(&warmup), "untimed iterations first")
      ("batch", po::value<std::int64_t>(&batch_size), "batch size (default [ttt] batch)")
      ("size", po::value<std::string>(&size_text), "HxW of the input (default: the source dataset's size)");
  if (!parse_arguments("s4t bench CONFIG [--method NAME] [--size HxW] [--batch N] [--iterations N]", options, args, &config, common)) return 0;
  // Every option is checked before anything is built: a median of nothing has no value.
  if (iterations < 1) throw ConfigError("--iterations must be at least 1, got " + std::to_string(iterations));
  if (warmup < 0) throw ConfigError("--warmup must be 0 or more, got " + std::to_string(warmup));
  if (batch_size < 0) throw ConfigError("--batch must be at least 1, got " + std::to_string(batch_size));
  std::vector<std::int64_t> size_override;
  if (!size_text.empty()) {
    auto xpos = size_text.find('x');
    std::vector<std::int64_t> hw;
    if (xpos != std::string::npos) hw = split_int_list(size_text.substr(0, xpos) + "," + size_text.substr(xpos + 1), "--size");
    if (hw.size() != 2 || hw[0] < 1 || hw[1] < 1 || hw[0] > 16384 || hw[1] > 16384)
      throw ConfigError("--size '" + size_text + "': expected HxW with H and W between 1 and 16384, e.g. 256x256");
    size_override = hw;
  }
  auto ctx = open_experiment(config, common);
  auto& x = *ctx.experiment;
  if (method.empty()) method = x.section("ttt").get_string("method");
  x.method_options(method);
  if (batch_size <= 0) batch_size = x.section("ttt").get_int("batch");
  auto source = make_dataset(x, ctx.registry, "source");
  auto tasks = resolve_tasks(x, *source, nullptr);
  auto size = source->image_size();
  if (!size_override.empty()) size = {size_override[0], size_override[1]};
  const auto device = run_device(x);
  torch::manual_seed(0);
  Batch batch = random_batch(tasks, batch_size, size[0], size[1], device);

  auto measure = [&](const std::string& m, bool with_ttt) {
    auto built = build_model(x, ctx.registry, tasks, size, m);
    auto& model = *built.model;
    std::vector<at::Tensor> params;
    for (auto& p : model.root().parameters(true)) params.push_back(p);
    OptimizerSpec adam;
    adam.name = "adam";
    adam.lr = 1e-9;
    auto optimizer = make_optimizer(adam, params);
    std::map<std::string, double> r;
    model.root().train();
    r["train"] = median_ms(warmup, iterations, device, [&] {
      auto out = model.forward(batch.images);
      auto losses = task_losses(tasks, out.predictions, batch);
      auto total = built.method->source_objective(model, batch, out, losses);
      optimizer->zero_grad();
      total.backward();
      optimizer->step();
    });
    if (with_ttt) {
      // The step a run takes (the host's AdaptationSession), on the trained weights.
      SessionOptions session_options;
      session_options.guard_nonfinite = x.section("ttt").get_bool("skip_nonfinite");
      session_options.method_label = ctx.registry.label(ComponentKind::Method, m);
      AdaptationSession session(model, *built.method, session_options);
      session.begin();
      bool updates = true;
      r["ttt"] = median_ms(warmup, iterations, device, [&] {
        if (!session.step(batch.images, {1, 0}).ran) updates = false;  // the method adapts nothing (none)
      });
      if (!updates) r.erase("ttt");
    }
    model.root().eval();
    r["infer"] = median_ms(warmup, iterations, device, [&] {
      at::NoGradGuard no_grad;
      model.forward(batch.images);
    });
    r["params"] = static_cast<double>(model.parameter_counts()["total"]);
    r["peak_rss_mib"] = peak_rss_mib();  // process high-water mark so far (CPU memory)
    return r;
  };

  std::cout << "bench: backbone '" << x.backbone.name << "', method '" << method << "', batch " << batch_size << "x3x"
            << size[0] << "x" << size[1] << ", device " << device.str() << ", " << at::get_num_threads()
            << " threads; median of " << iterations << " after " << warmup << " warm-up\n";
  auto reference = measure("none", false);
  auto measured = measure(method, true);
  auto row = [](const std::string& what, double ms, double ref) {
    std::cout << "  " << std::left << std::setw(34) << what << std::right << std::setw(10) << std::fixed
              << std::setprecision(1) << ms << " ms";
    if (ref > 0) std::cout << "   x" << std::setprecision(2) << ms / ref << " of reference";
    std::cout << "\n";
  };
  row("reference: supervised step (base)", reference["train"], 0);
  row("reference: inference (base)", reference["infer"], 0);
  row("source-training step [" + method + "]", measured["train"], reference["train"]);
  if (measured.count("ttt")) row("TTT step [" + method + "]", measured["ttt"], reference["train"]);
  row("inference [" + method + "]", measured["infer"], reference["infer"]);
  std::cout << "  parameters: base " << static_cast<std::int64_t>(reference["params"]) << ", with method "
            << static_cast<std::int64_t>(measured["params"]) << "\n"
            << "  peak resident memory: " << std::fixed << std::setprecision(0) << reference["peak_rss_mib"]
            << " MiB after the reference, " << measured["peak_rss_mib"] << " MiB after [" << method << "]\n";
  return 0;
}

}  // namespace s4t::host
