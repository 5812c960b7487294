// Writes the binary seeds of fuzz/corpus/ with the project's own writers, so each seed is a file the
// readers really meet: .npy (write_npy), .mat (write_mat_matrix, matio), a checkpoint (save_checkpoint
// of fuzz_checkpoint_model.hpp's model with Adam state) and metrics.json (Trajectory::to_json).
//   build-fuzz/fuzz/s4t_fuzz_make_seeds fuzz/corpus
// Near-valid variants (truncated, wrong dtype, ...) are written next to the valid ones.
#include <ATen/ops/ones.h>
#include <torch/optim/adam.h>
#include <torch/utils.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <vector>

#include <matio.h>

#include "engine/checkpoint.hpp"
#include "fuzz_checkpoint_model.hpp"
#include "run/trajectory.hpp"
#include "s4t_data/mat_io.hpp"
#include "s4t_data/npy.hpp"

namespace fs = std::filesystem;

namespace {
std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}
void spit(const fs::path& p, const std::string& bytes) { std::ofstream(p, std::ios::binary) << bytes; }

void npy_seeds(const fs::path& dir) {
  using s4t::data::write_npy;
  const std::vector<float> f = {0.5f, -1.f, 2.f, 3.25f, 4.f, 5.f};
  write_npy(dir / "f4_2x3.npy", "<f4", {2, 3}, f.data());
  write_npy(dir / "f4_1x2x3.npy", "<f4", {1, 2, 3}, f.data());
  const std::vector<double> d = {1.0, 2.0, 3.0, 4.0};
  write_npy(dir / "f8_2x2.npy", "<f8", {2, 2}, d.data());
  const std::vector<std::uint8_t> u = {0, 1, 2, 255, 7, 9};
  write_npy(dir / "u1_3x2.npy", "|u1", {3, 2}, u.data());
  const std::vector<std::uint16_t> u2 = {1, 65535, 3, 4};
  write_npy(dir / "u2_4.npy", "<u2", {4}, u2.data());
  const std::vector<std::int64_t> i8 = {-1, 2};
  write_npy(dir / "i8_2x1.npy", "<i8", {2, 1}, i8.data());
  // Fortran order and format version 2.0: the same header edited (the writer emits C order, v1.0).
  std::string fortran = slurp(dir / "f4_2x3.npy");
  fortran.replace(fortran.find("False"), 5, "True ");
  spit(dir / "f4_2x3_fortran.npy", fortran);
  std::string truncated = slurp(dir / "f8_2x2.npy");
  spit(dir / "f8_2x2_truncated.npy", truncated.substr(0, truncated.size() - 5));
}

void mat_seeds(const fs::path& dir) {
  cv::Mat m(3, 2, CV_32SC1);
  for (int i = 0; i < 6; ++i) m.at<std::int32_t>(i / 2, i % 2) = i * 7 - 3;
  s4t::data::write_mat_matrix(dir / "labelmap_int32.mat", "LabelMap", m);
  cv::Mat u(2, 4, CV_16UC1, cv::Scalar(459));
  s4t::data::write_mat_matrix(dir / "labelmap_uint16.mat", "LabelMap", u);
  s4t::data::write_mat_matrix(dir / "other_variable.mat", "Edges", u);
  // write_mat_matrix compresses (zlib); uncompressed v5 and v4 files let mutations reach matio's parser.
  for (auto [name, version] : {std::pair{"labelmap_v5_uncompressed.mat", MAT_FT_MAT5}, std::pair{"labelmap_v4.mat", MAT_FT_MAT4}}) {
    mat_t* mat = Mat_CreateVer((dir / name).c_str(), nullptr, version);
    std::vector<double> values = {1, 2, 3, 4, 5, 6};  // column-major 2 x 3
    std::size_t dims[2] = {2, 3};
    matvar_t* var = Mat_VarCreate("LabelMap", MAT_C_DOUBLE, MAT_T_DOUBLE, 2, dims, values.data(), MAT_F_DONT_COPY_DATA);
    Mat_VarWrite(mat, var, MAT_COMPRESSION_NONE);
    Mat_VarFree(var);
    Mat_Close(mat);
  }
  const std::string bytes = slurp(dir / "labelmap_int32.mat");
  spit(dir / "labelmap_truncated.mat", bytes.substr(0, bytes.size() - 8));
}

void checkpoint_seeds(const fs::path& dir) {
  torch::manual_seed(0);  // the same bytes every time the seeds are written
  auto model = s4t::fuzz::make_checkpoint_model();
  torch::optim::Adam optimizer(model->parameters(), torch::optim::AdamOptions(1e-3));
  auto* backbone = model->named_children()["backbone"]->as<torch::nn::Linear>();
  auto* head = model->named_children()["head"]->as<torch::nn::Linear>();
  auto loss = head->forward(backbone->forward(at::ones({2, 3}))).sum();
  loss.backward();
  optimizer.step();  // Adam state (exp_avg, exp_avg_sq, step) in the archive
  s4t::host::CheckpointMeta meta;
  meta.values["iteration"] = 1;
  meta.values["seed"] = 0;
  s4t::host::save_checkpoint(dir / "checkpoint.pt", *model, &optimizer, meta);
  s4t::host::save_checkpoint(dir / "no_optimizer.pt", *model, nullptr, meta);
}

void metrics_seeds(const fs::path& dir) {
  s4t::host::Trajectory t;
  t.method = "s4t";
  t.protocol = "online";
  t.seed = 3;
  s4t::TaskSpec seg, depth;
  seg.name = "semseg";
  seg.kind = s4t::TaskKind::Classification;
  seg.metric = s4t::MetricKind::MeanIoU;
  seg.higher_is_better = true;
  seg.channels = 5;
  depth.name = "depth";
  depth.metric = s4t::MetricKind::Rmse;
  depth.higher_is_better = false;
  depth.unit = "m";
  t.tasks = {seg, depth};
  t.steps = {0, 1, 2, 3};
  t.values = {{0.40, 0.80}, {0.42, 0.79}, {0.45, 0.75}, {0.44, 0.76}};
  t.delta = {0.0, 1.8, 6.8, 5.5};
  t.loss = {0.9, 0.8, 0.85};
  t.best = 2;
  t.batches = 4;
  t.updates = 3;
  t.seconds = 1.5;
  std::ofstream(dir / "metrics.json") << t.to_json().dump(2);
  t.steps = {0};
  t.values = {{0.40, 0.80}};
  t.delta = {0.0};
  t.loss = {};
  t.best = 0;
  t.method = "none";
  std::ofstream(dir / "metrics_none.json") << t.to_json().dump(2);
  // An earlier version's file: tasks without "kind", metric given by its label, a NaN written as null.
  std::ofstream(dir / "metrics_old.json")
      << R"({"method":"tent","tasks":[{"name":"normals","metric":"mErr","higher_is_better":false}],)"
         R"("steps":[0,5],"trajectory":{"normals":[30.5,null]},"delta_ttt":[0,null],"best_step":5,"seed":1})";
}
}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR (fuzz/corpus)\n", argv[0]);
    return 2;
  }
  const fs::path root = argv[1];
  for (auto sub : {"npy", "mat", "checkpoint", "metrics"}) fs::create_directories(root / sub);
  npy_seeds(root / "npy");
  mat_seeds(root / "mat");
  checkpoint_seeds(root / "checkpoint");
  metrics_seeds(root / "metrics");
  std::printf("seeds written under %s\n", root.c_str());
  return 0;
}
