#pragma once
// Shared by the fuzz targets: a scratch folder of this process for readers that only take a path,
// and the one way a target reports a broken property (so libFuzzer records the input as a crash).
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace s4t::fuzz {

// One folder per process (libFuzzer's -jobs/-workers run several), removed at exit. In memory
// (/dev/shm) unless TMPDIR says otherwise: one file is written per input, and on a busy disk that
// write, not the reader, set the pace (4 ms vs 0.3 ms per input here).
inline const std::filesystem::path& scratch_dir() {
  static const std::filesystem::path dir = [] {
    std::error_code ec;
    const char* tmpdir = std::getenv("TMPDIR");
    const std::filesystem::path parent = (!tmpdir || !*tmpdir) && std::filesystem::is_directory("/dev/shm", ec) &&
                                                 access("/dev/shm", W_OK) == 0
                                             ? std::filesystem::path("/dev/shm")
                                             : std::filesystem::temp_directory_path();
    std::string pattern = (parent / "s4t-fuzz-XXXXXX").string();
    if (!mkdtemp(pattern.data())) {
      std::perror("s4t fuzz: mkdtemp");
      std::abort();
    }
    static std::filesystem::path made = pattern;
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(made, ec);
    });
    return made;
  }();
  return dir;
}

// Writes the input to `name` in the scratch folder (replacing the previous input) and returns its path.
inline std::filesystem::path write_input(const std::string& name, const std::uint8_t* data, std::size_t size) {
  const auto path = scratch_dir() / name;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  out.close();
  if (!out) {
    std::fprintf(stderr, "s4t fuzz: cannot write %s\n", path.c_str());
    std::abort();
  }
  return path;
}

// With S4T_FUZZ_VERBOSE=1, says what the reader made of the input (accepted, or its error message):
// to check what a corpus entry exercises, e.g. `S4T_FUZZ_VERBOSE=1 s4t_fuzz_mat fuzz/corpus/mat/*`.
inline void note(const std::string& outcome) {
  static const bool verbose = std::getenv("S4T_FUZZ_VERBOSE") && std::string(std::getenv("S4T_FUZZ_VERBOSE")) == "1";
  if (verbose) std::fprintf(stderr, "s4t fuzz: %s\n", outcome.c_str());
}

// A property the reader promises does not hold for this input: print why and abort (a finding).
[[noreturn]] inline void broken(const std::string& why) {
  std::fprintf(stderr, "s4t fuzz: property broken: %s\n", why.c_str());
  std::abort();
}

}  // namespace s4t::fuzz
