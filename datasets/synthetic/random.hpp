#pragma once
// Deterministic, platform-independent random numbers for the generator. The standard library's
// distributions are implementation-defined, so a scene would differ between libstdc++ and libc++;
// these helpers give the same sample on every platform and in any thread.
#include <cstdint>

namespace s4t::synthetic {

/// SplitMix64 finaliser: a good 64-bit mixing function.
inline std::uint64_t mix64(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

/// Combines a seed with one more key (index, stream tag, ...).
inline std::uint64_t hash_combine(std::uint64_t seed, std::uint64_t key) { return mix64(seed ^ mix64(key)); }

/// A small sequential generator (SplitMix64 stream). Cheap to create per sample; not shared between threads.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() {
    state_ += 0x9e3779b97f4a7c15ull;
    std::uint64_t z = state_;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  /// Uniform in [0, 1).
  float uniform() { return static_cast<float>(next() >> 40) * (1.0f / 16777216.0f); }
  float uniform(float lo, float hi) { return lo + (hi - lo) * uniform(); }
  /// Uniform integer in [lo, hi].
  int integer(int lo, int hi) { return lo + static_cast<int>(next() % static_cast<std::uint64_t>(hi - lo + 1)); }
  /// Approximately standard normal: the sum of four 16-bit uniforms (Irwin-Hall), rescaled to unit variance.
  /// One 64-bit draw per value keeps sensor noise cheap at large resolutions; tails end at +-3.46.
  float normal() {
    std::uint64_t r = next();
    float s = 0.0f;
    for (int k = 0; k < 4; ++k, r >>= 16) s += static_cast<float>(r & 0xffff);
    return (s * (1.0f / 65536.0f) - 2.0f) * 1.7320508f;
  }

 private:
  std::uint64_t state_;
};

}  // namespace s4t::synthetic
