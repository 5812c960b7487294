// `s4t bench CONFIG`: times one source-training step, one test-time-training step, one inference
// forward and (--episode-steps N) one episode of N TTT steps + prediction of the configured network and
// method on random data of the configured size, next to a reference measured in the same process (a
// plain supervised step of the same network without the method's modules), and prints the ratios.
// [run] device, precision and memory_format apply (--set run.precision=bf16); on CUDA the device is
// synchronised around every timed iteration.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/nn/module.h>
#include <torch/csrc/jit/serialization/pickle.h>
#include <torch/cuda.h>
#include <torch/optim/optimizer.h>
#include <torch/utils.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <iomanip>
#include <iostream>

#include "cli/arguments.hpp"
#include "cli/commands.hpp"
#include "engine/adapter.hpp"
#include "engine/compute_mode.hpp"
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
  if (d.is_cuda()) torch::cuda::synchronize(d.index());  // waits for every queued kernel of the device
}

std::vector<std::int64_t> parse_size(const std::string& text, const std::string& option) {
  auto xpos = text.find('x');
  std::vector<std::int64_t> hw;
  if (xpos != std::string::npos) hw = split_int_list(text.substr(0, xpos) + "," + text.substr(xpos + 1), option);
  if (hw.size() != 2 || hw[0] < 1 || hw[1] < 1 || hw[0] > 16384 || hw[1] > 16384)
    throw ConfigError(option + " '" + text + "': expected HxW with H and W between 1 and 16384, e.g. 256x256");
  return hw;
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

// --save-weights: one dict of CPU tensors, pickled as torch.save would (torch.load reads it): the state
// ("state.<name>"), the input ("input"), eval-mode predictions ("pred.<task>") and the method's task
// latents ("latent.<task>"), all before any timed step touches the weights.
void save_forward(MultiTaskModel& model, TTTMethod& method, const at::Tensor& images, const std::string& path) {
  at::NoGradGuard no_grad;
  model.root().eval();
  c10::Dict<std::string, at::Tensor> out;
  for (auto& p : model.root().named_parameters(true)) out.insert("state." + p.key(), p.value().detach().cpu().contiguous());
  for (auto& b : model.root().named_buffers(true)) out.insert("state." + b.key(), b.value().detach().cpu().contiguous());
  out.insert("input", images.cpu().contiguous());
  for (auto& [task, t] : model.forward(images).predictions) out.insert("pred." + task, as_float(t).cpu().contiguous());
  for (auto& [task, t] : method.task_latents(model, images)) out.insert("latent." + task, as_float(t).cpu().contiguous());
  const auto bytes = torch::jit::pickle_save(c10::IValue(out));
  std::ofstream file(path, std::ios::binary);
  if (!file || !file.write(bytes.data(), static_cast<std::streamsize>(bytes.size())))
    throw ConfigError("--save-weights '" + path + "': cannot write the file");
  model.root().train();
}
}  // namespace

int cmd_bench(const std::vector<std::string>& args) {
  CommonArgs common;
  std::string config, method, size_text, grid_text, save_path;
  int iterations = 5, warmup = 2, episode_steps = 0;
  bool deferred = false;
  std::int64_t batch_size = 0;
  po::options_description options("s4t bench options");
  add_common_options(options, common);
  options.add_options()
      ("method", po::value<std::string>(&method), "method (default [ttt] method)")
      ("iterations", po::value<int>(&iterations), "timed iterations per measurement (median reported)")
      ("warmup", po::value<int>(&warmup), "untimed iterations first")
      ("batch", po::value<std::int64_t>(&batch_size), "batch size (default [ttt] batch)")
      ("size", po::value<std::string>(&size_text), "HxW of the input (default: the test-time size, [ttt] grid)")
      ("grid", po::value<std::string>(&grid_text),
       "HxW the model is built for (its training size; the fused-feature grid is HxW/4; default: --size)")
      ("episode-steps", po::value<int>(&episode_steps),
       "also time one episode: reset, N TTT steps and a prediction (0 = not measured, the default)")
      ("save-weights", po::value<std::string>(&save_path),
       "write the method's network (every parameter and buffer), the input batch and its eval-mode predictions "
       "and task latents to FILE, readable by Python's torch.load (bench/s4t_reference.py --check FILE)")
      ("deferred", po::bool_switch(&deferred),
       "TTT steps with the deferred guard: decided on the device, read once per episode (no host sync per step)");
  if (!parse_arguments("s4t bench CONFIG [--method NAME] [--size HxW] [--grid HxW] [--batch N] [--iterations N] "
                       "[--episode-steps N] [--deferred]",
                       options, args, &config, common))
    return 0;
  // Every option is checked before anything is built: a median of nothing has no value.
  if (iterations < 1) throw ConfigError("--iterations must be at least 1, got " + std::to_string(iterations));
  if (warmup < 0) throw ConfigError("--warmup must be 0 or more, got " + std::to_string(warmup));
  if (batch_size < 0) throw ConfigError("--batch must be at least 1, got " + std::to_string(batch_size));
  if (episode_steps < 0) throw ConfigError("--episode-steps must be 0 or more, got " + std::to_string(episode_steps));
  std::vector<std::int64_t> size_override, grid_override;
  if (!size_text.empty()) size_override = parse_size(size_text, "--size");
  if (!grid_text.empty()) grid_override = parse_size(grid_text, "--grid");
  auto ctx = open_experiment(config, common);
  auto& x = *ctx.experiment;
  if (method.empty()) method = x.section("ttt").get_string("method");
  x.method_options(method);
  if (batch_size <= 0) batch_size = x.section("ttt").get_int("batch");
  auto source = make_dataset(x, ctx.registry, "source");
  auto tasks = resolve_tasks(x, *source, nullptr);
  // The size a run adapts at: the source's, or the target's with [ttt] grid = "target".
  auto size = source->image_size();
  if (size_override.empty() && (x.section("ttt").get_string("grid") == "target" ||
                                !x.section("ttt").get_int_list("grid_size").empty()))
    size = test_time_size(x, *source, *make_dataset(x, ctx.registry, "target"));
  if (!size_override.empty()) size = {size_override[0], size_override[1]};
  const std::array<std::int64_t, 2> grid =
      grid_override.empty() ? size : std::array<std::int64_t, 2>{grid_override[0], grid_override[1]};
  const auto device = run_device(x);
  const ComputeMode mode = compute_mode(x);
  torch::manual_seed(0);
  Batch batch = random_batch(tasks, batch_size, size[0], size[1], device);
  batch.images = to_memory_format(batch.images, mode.channels_last);

  auto measure = [&](const std::string& m, bool with_ttt) {
    auto built = build_model(x, ctx.registry, tasks, grid, m);
    auto& model = *built.model;
    to_memory_format(model.root(), mode.channels_last);
    std::vector<at::Tensor> params;
    for (auto& p : model.root().parameters(true)) params.push_back(p);
    OptimizerSpec adam;
    adam.name = "adam";
    adam.lr = 1e-9;
    auto optimizer = make_optimizer(adam, params);
    std::map<std::string, double> r;
    model.root().train();
    r["train"] = median_ms(warmup, iterations, device, [&] {
      at::Tensor total;
      {
        AutocastScope autocast(device, mode.bf16);
        auto out = model.forward(batch.images);
        out.predictions = as_float(std::move(out.predictions));  // task losses in fp32
        auto losses = task_losses(tasks, out.predictions, batch);
        total = as_float(built.method->source_objective(model, batch, out, losses));
      }
      optimizer->zero_grad();
      total.backward();
      optimizer->step();
    });
    if (with_ttt && !save_path.empty()) save_forward(model, *built.method, batch.images, save_path);
    if (with_ttt) {
      // The step a run takes (the host's AdaptationSession), on the trained weights.
      SessionOptions session_options;
      session_options.guard_nonfinite = x.section("ttt").get_bool("skip_nonfinite");
      session_options.method_label = ctx.registry.label(ComponentKind::Method, m);
      session_options.compute = mode;  // the model and the images are converted already: a no-op there
      session_options.sync_each_step = !deferred;
      AdaptationSession session(model, *built.method, session_options);
      session.begin();
      bool updates = true;
      r["ttt"] = median_ms(warmup, iterations, device, [&] {
        if (!session.step(batch.images, {1, 0}).ran) updates = false;  // the method adapts nothing (none)
        session.flush();  // deferred: the per-step read the synced mode makes inside step()
      });
      if (!updates) r.erase("ttt");
      if (updates && episode_steps > 0) {
        // What `s4t adapt` does per target batch (episodic): source weights back, N steps, one prediction.
        r["episode"] = median_ms(warmup, iterations, device, [&] {
          session.reset();
          for (int step = 1; step <= episode_steps; ++step) session.step(batch.images, {step, 0});
          session.predict(batch.images);
          session.flush();
        });
      }
    }
    model.root().eval();
    r["infer"] = median_ms(warmup, iterations, device, [&] {
      at::NoGradGuard no_grad;
      AutocastScope autocast(device, mode.bf16);
      model.forward(batch.images);
    });
    r["params"] = static_cast<double>(model.parameter_counts()["total"]);
    r["peak_rss_mib"] = peak_rss_mib();  // process high-water mark so far (CPU memory)
    return r;
  };

  std::cout << "bench: backbone '" << x.backbone.name << "', method '" << method << "', batch " << batch_size << "x3x"
            << size[0] << "x" << size[1] << " (model built for " << grid[0] << "x" << grid[1] << "), device "
            << device.str() << ", " << describe(mode) << (deferred ? ", deferred guard" : "") << ", "
            << at::get_num_threads() << " threads; median of " << iterations << " after " << warmup << " warm-up\n";
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
  if (measured.count("episode"))
    row(std::to_string(episode_steps) + " TTT steps + prediction [" + method + "]", measured["episode"], 0);
  row("inference [" + method + "]", measured["infer"], reference["infer"]);
  std::cout << "  parameters: base " << static_cast<std::int64_t>(reference["params"]) << ", with method "
            << static_cast<std::int64_t>(measured["params"]) << "\n"
            << "  peak resident memory: " << std::fixed << std::setprecision(0) << reference["peak_rss_mib"]
            << " MiB after the reference, " << measured["peak_rss_mib"] << " MiB after [" << method << "]";
  // The CUDA caching allocator's statistics are not read (its API differs between LibTorch versions and
  // this path is not verified on a device yet, docs/gpu.md); the resident-memory figure is host memory.
  if (device.is_cuda()) std::cout << " (host memory; CUDA allocator peak: not measured by s4t bench)";
  std::cout << "\n";
  return 0;
}

}  // namespace s4t::host
