// bench_datasets: loader throughput of the real dataset plugins on fixture datasets of realistic size.
// Not a test (ctest does not run it). Writes, into a temporary folder (or argv[1]):
//   NYUD-v2, MTI-Net layout: N images 480x640 (JPEG with texture, PNG labels, .npy depth/normals/edges)
//   PASCAL-Context: N images 375x500 (JPEG, palette PNG labels, .mat LabelMap, PNG normals)
//   Taskonomy: N views 512x512 (PNG rgb/normal/labels, 16-bit depth and occlusion edges) -> 256x256
// and prints images/s through the host's DataLoader (batch 8) with 1 and 2 loader threads, for the
// target pipeline (decode + test-time sizing) and the source pipeline (decode + augmentation), and the
// process CPU time per image of the 1-thread run (comparable across machines and load).
//   usage: bench_datasets [folder] [N=64] [epochs=2]
#include <ATen/Parallel.h>

#include <chrono>
#include <ctime>
#include <cstdlib>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <random>
#include <string>

#include <opencv2/core/utility.hpp>

#include "engine/data_loader.hpp"
#include "fixtures.hpp"
#include "plugins/component_registry.hpp"
#include "plugins/plugin_loader.hpp"
#include "s4t/error.hpp"

namespace fs = std::filesystem;
namespace fx = s4t::test::fixtures;

namespace {

struct Rate {
  double images_per_second = 0;
  double cpu_ms_per_image = 0;  // process CPU time per image: independent of other load on the machine
};

Rate measure(const s4t::host::ComponentRegistry& registry, const std::string& name, const std::string& role,
             const std::map<std::string, s4t::Value>& overrides, int workers, int epochs) {
  auto& c = registry.get(s4t::ComponentKind::Dataset, name);
  auto o = s4t::Options::defaults(c.info.schema, name);
  for (auto& [k, v] : overrides) o.set(k, v);
  s4t::DatasetContext ctx;
  ctx.role = role;
  auto dataset = registry.make_dataset(name, ctx, o);
  s4t::host::LoaderOptions lo;
  lo.batch = 8;
  lo.workers = workers;
  lo.prefetch = 4;
  s4t::host::DataLoader loader(dataset, lo);
  s4t::Batch b;
  while (loader.next(b)) {}  // warm-up epoch: page cache, allocator
  std::int64_t images = 0;
  const auto t0 = std::chrono::steady_clock::now();
  const std::clock_t c0 = std::clock();
  for (int e = 0; e < epochs; ++e) {
    loader.restart();
    while (loader.next(b)) images += b.size();
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double cpu = static_cast<double>(std::clock() - c0) / CLOCKS_PER_SEC;
  return {static_cast<double>(images) / s, 1000.0 * cpu / static_cast<double>(images)};
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const int n = argc > 2 ? std::stoi(argv[2]) : 64;
    const int epochs = argc > 3 ? std::stoi(argv[3]) : 2;
    fs::path root;
    bool cleanup = false;
    if (argc > 1) {
      root = argv[1];
    } else {
      root = fs::temp_directory_path() / ("s4t-bench-datasets-" + std::to_string(std::random_device{}()));
      cleanup = true;
    }
    fs::create_directories(root);
    // Loader threads are the unit of parallelism here: no intra-op threads inside a sample.
    at::set_num_threads(1);
    cv::setNumThreads(0);

    const fs::path marker = root / (".complete-" + std::to_string(n));
    if (fs::exists(marker)) {
      std::cout << "reusing the fixtures in " << root << "\n";
    } else {
      std::cout << "writing fixtures to " << root << " (" << n << " samples each)..." << std::flush;
      fx::write_nyud(root / "NYUDv2", false, 480, 640, n, 1, 24);
      fx::write_pascal(root / "PASCALContext", n, 1, cv::Size(500, 375), 24);
      fx::write_taskonomy(root / "taskonomy", n / 2, 512, 24);  // alpha + beta = n training views
      fx::write_lines(marker, {"fixtures written by bench_datasets"});
      std::cout << " done\n";
    }
    const char* only = std::getenv("S4T_BENCH_ONLY");  // e.g. "nyudv2" to profile one loader

    s4t::host::ComponentRegistry registry;
    s4t::host::load_plugin_dirs({fs::path(S4T_BUILD_PLUGIN_DIR)}, registry);
    for (auto& f : registry.failures()) std::cerr << "plugin " << f.file << ": " << f.reason << "\n";

    struct Case {
      std::string dataset, label, role;
      std::map<std::string, s4t::Value> options;
    };
    const std::vector<Case> cases = {
        {"nyudv2", "NYUD-v2 480x640, test (decode only)", "target",
         {{"root", s4t::Value((root / "NYUDv2").string())}, {"split", s4t::Value(std::string("train"))}}},
        {"nyudv2", "NYUD-v2 480x640 -> 448x576 crop, source augmentation", "source",
         {{"root", s4t::Value((root / "NYUDv2").string())}}},
        {"pascal_context", "PASCAL 375x500 -> pad 512, test", "target",
         {{"root", s4t::Value((root / "PASCALContext").string())}, {"split", s4t::Value(std::string("train"))}}},
        {"pascal_context", "PASCAL 375x500 -> 512 crop, source augmentation", "source",
         {{"root", s4t::Value((root / "PASCALContext").string())}}},
        {"taskonomy", "Taskonomy 512x512 -> 256, test pipeline", "target",
         {{"root", s4t::Value((root / "taskonomy").string())}, {"split", s4t::Value(std::string("train"))}}},
        {"taskonomy", "Taskonomy 512x512 -> 256, source (flip)", "source",
         {{"root", s4t::Value((root / "taskonomy").string())}, {"split", s4t::Value(std::string("train"))}}},
    };
    std::printf("\n%-58s %15s %15s %15s\n", "loader", "1 thread img/s", "2 threads img/s", "CPU ms/img");
    for (auto& c : cases) {
      if (only && c.dataset != only) continue;
      const Rate one = measure(registry, c.dataset, c.role, c.options, 1, epochs);
      const Rate two = measure(registry, c.dataset, c.role, c.options, 2, epochs);
      std::printf("%-58s %15.1f %15.1f %15.1f\n", c.label.c_str(), one.images_per_second, two.images_per_second,
                  one.cpu_ms_per_image);
    }
    if (cleanup) fs::remove_all(root);
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "bench_datasets: " << e.what() << "\n";
    return 1;
  }
}
