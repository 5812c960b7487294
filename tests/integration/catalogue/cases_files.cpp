// File cases: plugin files, dataset files of every format the real dataset plugins read, checkpoints
// and run directories that are damaged, missing or something else than they should be.
#include "catalogue.hpp"

namespace s4t::test::catalogue {

namespace {
// A .npy file with the given header fields and `payload` bytes of data.
std::string npy(const std::string& descr, const std::string& shape, std::size_t payload) {
  std::string header = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
  while ((10 + header.size() + 1) % 64) header += ' ';
  header += '\n';
  std::string out = std::string("\x93NUMPY\x01\x00", 8);
  out += static_cast<char>(header.size() & 0xff);
  out += static_cast<char>(header.size() >> 8);
  return out + header + std::string(payload, '\0');
}
const char* kCheckpoint = "runs/demo/source/s4t/checkpoint.pt";
}  // namespace

std::vector<Case> file_cases() {
  std::vector<Case> c;
  // ---- plugin files ----------------------------------------------------------------------------
  auto plugin = [&](std::string name, std::vector<Edit> edits, std::vector<std::string> words) {
    c.push_back({std::move(name), "", std::move(edits), "{s4t} plugins --plugin-dir {dir}/pl", 0, std::move(words), {}});
  };
  plugin("plugin file of text", {write("pl/notes.so", "not a library\n")}, {"notes.so", "is not a shared library"});
  plugin("plugin file empty", {write("pl/empty.so", "")}, {"empty.so", "refused"});
  plugin("plugin file truncated ELF", {write("pl/cut.so", std::string("\x7f" "ELF\x02\x01\x01\0", 8))}, {"cut.so", "refused"});
  plugin("plugin file a folder named .so", {make_dir("pl/dir.so")}, {});
  c.push_back({"a broken plugin does not stop training", "", {write("pl/notes.so", "x")},
               "{s4t} train {demo} {tiny} --plugin-dir {dir}/pl", 0, {"notes.so", "refused", "source checkpoint"}, {}});

  // ---- dataset files: every case fails naming the file, or skips it with on_error = "skip" ------
  auto data = [&](std::string name, std::string start, std::vector<Edit> edits, int code, std::vector<std::string> words,
                  std::string extra = "") {
    c.push_back({std::move(name), std::move(start), std::move(edits), "{s4t} train {data} {tiny_data}" + extra, code,
                 std::move(words), code ? std::vector<std::string>{"runs/fixture/source/none/checkpoint.pt"}
                                        : std::vector<std::string>{}});
  };
  const std::string skip = " --set data.source.on_error=skip --set data.target.on_error=skip";
  data("NYUD: dataset root missing", "nyud", {remove("NYUDv2")}, 1, {"NYUDv2"});
  data("NYUD: dataset root is a file", "nyud", {remove("NYUDv2"), write("NYUDv2", "x")}, 1, {"NYUDv2"});
  data("NYUD: split file missing", "nyud", {remove("NYUDv2/gt_sets/train.txt")}, 1, {"train.txt"});
  data("NYUD: split file empty", "nyud", {write("NYUDv2/gt_sets/train.txt", "")}, 1, {"train.txt"});
  data("NYUD: split names a missing sample", "nyud", {write("NYUDv2/gt_sets/train.txt", "0001\n0002\n9999\n0004\n")}, 1, {"9999"});
  data("NYUD: JPEG image truncated", "nyud", {truncate("NYUDv2/images/0001.jpg", 120)}, 1, {"0001.jpg"});
  data("NYUD: JPEG image is text", "nyud", {write("NYUDv2/images/0002.jpg", "hello")}, 1, {"0002.jpg"});
  data("NYUD: JPEG image missing", "nyud", {remove("NYUDv2/images/0003.jpg")}, 1, {"0003.jpg"});
  data("NYUD: segmentation PNG truncated", "nyud", {truncate("NYUDv2/segmentation/0001.png", 40)}, 1, {"0001.png"});
  data("NYUD: segmentation PNG missing", "nyud", {remove("NYUDv2/segmentation/0002.png")}, 1, {"0002.png"});
  data("NYUD: depth .npy truncated", "nyud", {truncate("NYUDv2/depth/0001.npy", 200)}, 1, {"0001.npy", "truncated"});
  data("NYUD: depth .npy bad magic", "nyud", {write("NYUDv2/depth/0001.npy", "PK\x03\x04 not numpy")}, 1,
       {"0001.npy", "not a NumPy .npy file"});
  data("NYUD: depth .npy absurd header shape", "nyud",
       {write("NYUDv2/depth/0001.npy", npy("<f4", "(4000000000, 4000000000)", 64))}, 1, {"0001.npy", "truncated .npy data"});
  data("NYUD: depth .npy absurd header shape, on_error = skip", "nyud",
       {write("NYUDv2/depth/0001.npy", npy("<f4", "(4000000000, 4000000000)", 64))}, 0, {"0001.npy", "source checkpoint"}, skip);
  data("NYUD: depth .npy overflowing dimension", "nyud",
       {write("NYUDv2/depth/0001.npy", npy("<f4", "(99999999999999999999, 1)", 64))}, 1, {"0001.npy", "absurd dimension"});
  data("NYUD: depth .npy unsupported dtype", "nyud", {write("NYUDv2/depth/0001.npy", npy("<c8", "(16, 16)", 2048))}, 1,
       {"0001.npy", "unsupported .npy dtype '<c8'"});
  data("NYUD: depth .npy garbled shape", "nyud", {write("NYUDv2/depth/0001.npy", npy("<f4", "(16; 16)", 1024))}, 1,
       {"0001.npy", "cannot parse .npy shape"});
  data("NYUD: depth .npy 4-D", "nyud", {write("NYUDv2/depth/0001.npy", npy("<f4", "(1, 16, 16, 1)", 1024))}, 1,
       {"0001.npy", "expected an array of shape (H, W)"});
  data("NYUD: depth .npy of an empty array", "nyud", {write("NYUDv2/depth/0001.npy", npy("<f4", "(0, 16)", 0))}, 1, {"0001.npy"});
  data("NYUD: normals .npy truncated", "nyud", {truncate("NYUDv2/normals/0002.npy", 300)}, 1, {"0002.npy", "truncated"});
  data("NYUD: edge .npy missing", "nyud", {remove("NYUDv2/edge/0001.npy")}, 1, {"0001.npy"});
  data("NYUD: header-only .npy", "nyud", {truncate("NYUDv2/depth/0002.npy", 9)}, 1, {"0002.npy"});
  data("NYUD (ATRC): PNG image truncated", "nyud_atrc", {truncate("NYUDv2/images/0001.png", 60)}, 1, {"0001.png"});
  data("PASCAL: .mat truncated", "pascal", {truncate("PASCALContext/pascal-context/trainval/2008_000001.mat", 150)}, 1,
       {"2008_000001.mat"});
  data("PASCAL: .mat is text", "pascal", {write("PASCALContext/pascal-context/trainval/2008_000001.mat", "MATLAB?")}, 1,
       {"2008_000001.mat"});
  data("PASCAL: .mat missing", "pascal", {remove("PASCALContext/pascal-context/trainval/2008_000002.mat")}, 1,
       {"2008_000002.mat"});
  data("PASCAL: palette PNG truncated", "pascal", {truncate("PASCALContext/semseg/VOC12/2008_000001.png", 50)}, 1,
       {"2008_000001.png"});
  data("PASCAL: JPEG image truncated", "pascal", {truncate("PASCALContext/JPEGImages/2008_000003.jpg", 100)}, 1,
       {"2008_000003.jpg"});
  data("PASCAL: split file missing", "pascal", {remove("PASCALContext/ImageSets/Context/train.txt")}, 1, {"train.txt"});
  data("Taskonomy: split CSV garbled", "taskonomy", {write("taskonomy/splits_taskonomy/train_val_test_tiny.csv", "id;train\n\x01\x02")},
       1, {"train_val_test_tiny.csv"});
  data("Taskonomy: split CSV missing", "taskonomy", {remove("taskonomy/splits_taskonomy/train_val_test_tiny.csv")}, 1,
       {"train_val_test_tiny.csv"});
  data("Taskonomy: RGB PNG truncated", "taskonomy", {truncate("taskonomy/rgb/taskonomy/alpha/point_0_view_0_domain_rgb.png", 70)},
       1, {"point_0_view_0_domain_rgb.png"});
  data("Taskonomy: depth PNG is text", "taskonomy",
       {write("taskonomy/depth_zbuffer/taskonomy/alpha/point_1_view_1_domain_depth_zbuffer.png", "depth")}, 1,
       {"point_1_view_1_domain_depth_zbuffer.png"});
  data("Taskonomy: normal PNG missing", "taskonomy", {remove("taskonomy/normal/taskonomy/beta/point_0_view_0_domain_normal.png")},
       1, {"point_0_view_0_domain_normal.png"});

  // ---- checkpoints: a trained tiny run, then its checkpoint damaged -----------------------------
  auto ckpt = [&](std::string name, std::vector<Edit> edits, std::string command, int code, std::vector<std::string> words) {
    c.push_back({std::move(name), "trained", std::move(edits), std::move(command), code, std::move(words),
                 {"runs/demo/adapt/tent/metrics.json"}});
  };
  const std::string adapt = "{s4t} adapt {demo} {tiny} --method tent --checkpoint {dir}/";
  ckpt("checkpoint with flipped bytes", {flip(kCheckpoint, 4000), flip(kCheckpoint, 4001)}, adapt + kCheckpoint, 1,
       {"checkpoint.pt"});
  ckpt("checkpoint truncated", {truncate(kCheckpoint, 5000)}, adapt + kCheckpoint, 1, {"checkpoint.pt"});
  ckpt("checkpoint empty", {truncate(kCheckpoint, 0)}, adapt + kCheckpoint, 1, {"checkpoint.pt"});
  ckpt("checkpoint is text", {write("text.pt", "weights")}, adapt + "text.pt", 1, {"text.pt"});
  ckpt("checkpoint of another architecture", {}, adapt + kCheckpoint + " --set backbone.resnet.width=8", 1,
       {"checkpoint.pt"});
  ckpt("checkpoint of other tasks", {}, "{s4t} eval {demo} {tiny} --checkpoint {dir}/" + std::string(kCheckpoint) +
       " --set 'tasks.names=[\"depth\"]'", 1, {"checkpoint.pt"});
  ckpt("run's own checkpoint removed", {remove(kCheckpoint)}, "{s4t} adapt {demo} {tiny} --method s4t", 1,
       {"no finished source checkpoint"});
  ckpt("run's own checkpoint flipped", {flip(kCheckpoint, 6000)}, "{s4t} eval {demo} {tiny}", 1, {"checkpoint.pt"});
  // ---- run directories ---------------------------------------------------------------------------
  c.push_back({"output_dir is a file", "", {write("out", "x")}, "{s4t} train {demo} {tiny} --set run.output_dir={dir}/out", 1,
               {"out"}, {}});
  c.push_back({"run directory is a file", "", {write("runs/demo", "x")}, "{s4t} train {demo} {tiny}", 1, {"demo"}, {}});
  // The trainer's documented choices: --resume with nothing to resume starts over (with a warning); a
  // train_log.csv that is not the trainer's format stops a resume, naming the line (the resumed log would
  // silently lack rows), and a resume without one continues the log from the checkpoint.
  const std::string log = "runs/demo/source/s4t/train_log.csv";
  const std::string resume8 = "{s4t} train {demo} {tiny} --set train.iterations=8 --resume";
  c.push_back({"resume without a partial checkpoint", "", {}, "{s4t} train {demo} {tiny} --resume", 0,
               {"--resume: no checkpoint", "starting from iteration 0"}, {}});
  c.push_back({"resume with a garbled train_log.csv header", "partial", {write(log, "iteration,lr\nx,y\n")}, resume8, 1,
               {"train_log.csv' line 1 is 'iteration,lr'", "expected the header 'iteration,lr,total,depth,edge,normals,semseg'",
                "fix or remove it"}, {}});
  c.push_back({"resume with a garbled train_log.csv row", "partial",
               {write(log, "iteration,lr,total,depth,edge,normals,semseg\n2,0.001,1.5,0.1,0.2,0.3,0.4\n4,0.001,x,0.1,0.2,0.3,0.4\n")},
               resume8, 1, {"train_log.csv' line 3: total is 'x'; expected a finite number", "fix or remove it"}, {}});
  c.push_back({"resume with a train_log.csv row of too few values", "partial",
               {write(log, "iteration,lr,total,depth,edge,normals,semseg\n2,0.001,1.5\n")}, resume8, 1,
               {"train_log.csv' line 2 has 3 values; expected 7"}, {}});
  c.push_back({"resume with train_log.csv iterations out of order", "partial",
               {write(log, "iteration,lr,total,depth,edge,normals,semseg\n4,0.001,1.5,0.1,0.2,0.3,0.4\n2,0.001,1.5,0.1,0.2,0.3,0.4\n")},
               resume8, 1, {"line 3: iteration 2 follows iteration 4; expected increasing iterations"}, {}});
  c.push_back({"resume with train_log.csv removed", "partial", {remove(log)}, resume8, 0,
               {"resuming source training from iteration 4"}, {}});
  c.push_back({"resume past the iterations", "partial", {}, "{s4t} train {demo} {tiny} --set train.iterations=3 --resume", 2,
               {"--resume", "is at iteration 4", "[train] iterations = 3"}, {}});
  c.push_back({"resume of a damaged partial checkpoint", "partial", {flip(kCheckpoint, 5000)},
               "{s4t} train {demo} {tiny} --set train.iterations=8 --resume", 1, {"checkpoint.pt"}, {}});
  return c;
}

}  // namespace s4t::test::catalogue
