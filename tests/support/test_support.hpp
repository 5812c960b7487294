#pragma once
// Helpers shared by the test suites: where the build put things, temporary folders, the s4t binary.
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>

namespace s4t::test {

/// The environment variable `name` if set, else the build-tree default compiled into the test.
inline std::filesystem::path env_path(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v ? std::filesystem::path(v) : std::filesystem::path(fallback);
}
#ifndef S4T_TEST_DEFAULT_PLUGIN_DIR
#define S4T_TEST_DEFAULT_PLUGIN_DIR ""
#define S4T_TEST_DEFAULT_FIXTURE_DIR ""
#define S4T_TEST_DEFAULT_SOURCE_DIR ""
#define S4T_TEST_DEFAULT_BINARY_DIR ""
#endif
inline std::filesystem::path plugin_dir() { return env_path("S4T_TEST_PLUGIN_DIR", S4T_TEST_DEFAULT_PLUGIN_DIR); }
inline std::filesystem::path fixture_dir() { return env_path("S4T_TEST_FIXTURE_DIR", S4T_TEST_DEFAULT_FIXTURE_DIR); }
inline std::filesystem::path source_dir() { return env_path("S4T_SOURCE_DIR", S4T_TEST_DEFAULT_SOURCE_DIR); }
inline std::filesystem::path s4t_binary() { return env_path("S4T_BINARY_DIR", S4T_TEST_DEFAULT_BINARY_DIR) / "bin" / "s4t"; }

/// A fresh folder under the system temp dir, removed when the object dies.
class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    path_ = std::filesystem::temp_directory_path() / ("s4t-test-" + std::to_string(rd()) + std::to_string(rd()));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

/// Runs a shell command; returns its exit code and puts stdout+stderr in `output`.
int run_command(const std::string& command, std::string& output);

}  // namespace s4t::test
