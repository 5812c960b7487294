#include "config/host_schema.hpp"

namespace s4t::host {

namespace {
std::map<std::string, Schema> build() {
  std::map<std::string, Schema> s;
  s["run"]
      .add_string("name", "experiment", "run name: the run directory is <output_dir>/<name>")
      .add_string("output_dir", "runs", "folder that holds run directories (relative to the working directory)")
      .add_int("seed", 0, "random seed for data order, initialisation and TBS masks", 0)
      .add_string("device", "cpu", "cpu, cuda or cuda:N")
      .add_int("threads", 0, "CPU threads for LibTorch (0 = all cores)", 0)
      .add_string("precision", "fp32", "fp32, or bf16 (autocast: matmuls/convolutions in bfloat16, weights and losses in fp32)",
                  {"fp32", "bf16"})
      .add_string("memory_format", "contiguous", "contiguous (NCHW) or channels_last (NHWC) weights and images",
                  {"contiguous", "channels_last"})
      .add_string("backend", "gloo", "collective backend of distributed runs: gloo (CPU) or nccl (CUDA)", {"gloo", "nccl"})
      .add_int("dist_timeout_s", 120, "seconds a distributed run waits for a missing or dead rank before it stops with an error", 1)
      .add_string("log_level", "info", "trace, debug, info, warn or error",
                  {"trace", "debug", "info", "warn", "error"})
      .add_bool("progress", true, "progress bars on a terminal (plain log lines otherwise)");
  s["plugins"].add_string_list("dirs", {}, "extra plugin folders (relative to this file), searched after --plugin-dir and S4T_PLUGIN_PATH");
  s["model"]
      .add_string("backbone", "resnet", "backbone plugin (its options go in [backbone.<name>])")
      .add_string("head", "conv1x1", "task head plugin (its options go in [head.<name>])");
  s["tasks"]
      .add_string_list("names", {"semseg", "depth", "normals", "edge"}, "tasks of the multi-task network, in order")
      .add_float_list("loss_weights", {}, "per-task loss weights in the order of names (empty = each task's default weight)", 0.0)
      .add_string("metric_spec", "source", "how predictions are scored (metric, activation, depth clamp, unit): as the source dataset's task declares it (source) or as the target's (target, as the released code does: sigmoid edges on NYUD/PASCAL, raw edges on Taskonomy)",
                  {"source", "target"})
      .add_bool("clamp_depth", true, "clamp predictions at 0 before the metric for tasks that declare it (depth); false never clamps (the released code on Taskonomy's depth_zbuffer)");
  s["data"]
      .add_int("workers", 2, "loader threads that decode samples", 0, 64)
      .add_int("prefetch", 4, "batches prepared ahead of the model", 1, 64)
      .add_bool("pin_memory", true, "pin batches in page-locked memory when the device is CUDA");
  s["train"]
      .add_int("iterations", 60000, "source training iterations", 0)
      .add_int("batch", 8, "source batch size: the global batch, split evenly over the ranks of a distributed run", 1)
      .add_string("optimizer", "adam", "source optimizer", {"adam", "sgd"})
      .add_float("lr", 2e-5, "source learning rate", 0.0)
      .add_float("weight_decay", 1e-6, "source weight decay", 0.0)
      .add_float("momentum", 0.9, "SGD momentum (optimizer = sgd)", 0.0, 1.0)
      .add_float("poly_power", 0.9, "polynomial decay: lr_i = lr (1 - i/iterations)^power", 0.0)
      .add_int("checkpoint_every", 1000, "iterations between checkpoints (0 = only at the end)", 0)
      .add_int("log_every", 100, "iterations between loss log lines", 1)
      .add_int("post_training_batches", 0, "source batches for methods' post-training (0 = one epoch)", 0)
      .add_bool("shuffle", true, "shuffle the source set each epoch")
      .add_bool("sync_batchnorm", true, "distributed runs: BatchNorm statistics over the whole global batch (every rank's share), so W ranks train as one process does; false = per-rank statistics (DistributedDataParallel's default)");
  s["ttt"]
      .add_string("method", "none", "method used by `s4t adapt` (its options go in [method.<name>])")
      .add_string("protocol", "episodic", "episodic (reset per batch), online (carry weights) or single_batch_then_eval",
                  {"episodic", "online", "single_batch_then_eval"})
      .add_int("steps", 40, "adaptation steps per target batch", 0, 100000)
      .add_int("batch", 8, "target batch size", 1)
      .add_int("max_batches", 0, "target batches to adapt on (0 = the whole target set)", 0)
      .add_bool("shuffle", false, "shuffle target batches (by seed)")
      .add_int("eval_every", 1, "steps between evaluations of the trajectory (the last step is always evaluated)", 1)
      .add_string("checkpoint", "", "source checkpoint to adapt (empty = the run's own)")
      .add_bool("skip_nonfinite", true, "skip steps whose loss or gradients are NaN/Inf and count them")
      .add_bool("affinity", true, "task-affinity matrices of the method's task latents (source, target before/after)")
      .add_int("affinity_batches", 4, "source batches used for the source affinity matrix", 1)
      .add_string("grid", "source", "image size the model is built for at test time (the fused-feature grid is size/4): source (the source training size) or target (the target's image size, as the released code does)",
                  {"source", "target"})
      .add_int_list("grid_size", {}, "[H, W] the test-time model is built for, overriding grid (empty = as grid says); the released NYUD-v2 configs build for the 448x576 training crop while testing on 480x640 images", 1)
      .add_string("select", "last", "step a table reports: last (the final step), step:N, validation (best Δ_TTT on a labelled target validation split disjoint from the evaluated images) or oracle (best Δ_TTT on the evaluated images themselves: uses their labels)")
      .add_int("validation_size", 0, "target images held out as the validation split when select = validation (0 = none held out)", 0)
      .add_string("stream", "single", "target stream (docs/streams.md): single ([data.target] alone), continual (the domains one after another), gradual (each corruption domain at severities 1,2,3,4,5,4,3,2,1 in turn) or mixed (the domains' images shuffled into one stream)",
                  {"single", "continual", "gradual", "mixed"})
      .add_string_list("domains", {}, "target domains of a continual, gradual or mixed stream, in order: \"<corruption>[:<severity>]\" of [data.target], or the name of a [domain.<name>] table whose keys override [data.target]'s")
      .add_string("reset", "protocol", "when the weights go back to the source's over the target stream: protocol (as [ttt] protocol says: episodic = per_batch, online = never), never, per_domain (at each new domain) or per_batch",
                  {"protocol", "never", "per_domain", "per_batch"});
  s["compare"]
      .add_string_list("methods", {"none"}, "methods compared by `s4t compare` (\"none\" is the Base row)")
      .add_int_list("seeds", {0}, "seeds; tables show mean ± std over them", 0)
      .add_string("base", "shared", "Base row: shared (the separately trained `none` source model) or step0 (each method's own model before adaptation, as the released code reports)",
                  {"shared", "step0"});
  return s;
}
}  // namespace

const std::map<std::string, Schema>& host_sections() {
  static const std::map<std::string, Schema> sections = build();
  return sections;
}

const Schema& data_role_schema() {
  static const Schema schema = [] {
    Schema s;
    s.add_string("dataset", "synthetic", "dataset plugin; every other key here is that dataset's option");
    return s;
  }();
  return schema;
}

}  // namespace s4t::host
