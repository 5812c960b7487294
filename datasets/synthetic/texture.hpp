#pragma once
// Procedural texture patterns in [0, 1], evaluated at 3-D texture coordinates (metres).
// Smooth (sinusoidal) rather than hard-edged so that distant surfaces alias less at 64x64.
#include <cmath>
#include <cstdint>

#include "random.hpp"
#include "vec3.hpp"

namespace s4t::synthetic {

inline constexpr float kTwoPi = 6.28318530718f;

/// Parallel stripes across `direction`, `frequency` cycles per metre.
inline float stripes(Vec3 q, Vec3 direction, float frequency) {
  return 0.5f + 0.5f * std::sin(kTwoPi * frequency * dot(q, direction));
}

/// Soft checkerboard (tiles of 1/(2·frequency) metres). The quarter-period phase keeps a coordinate
/// that is constant over a surface (e.g. the third one of a plane) from cancelling the pattern.
inline float checker(Vec3 q, float frequency) {
  const float phase = 0.785398f;
  const float v = std::sin(kTwoPi * frequency * q.x + phase) * std::sin(kTwoPi * frequency * q.y + phase) *
                  std::sin(kTwoPi * frequency * q.z + phase);
  const float s = 0.5f + 4.0f * v;
  return s < 0 ? 0.0f : s > 1 ? 1.0f : s;
}

/// Lattice value in [0, 1) for integer coordinates.
inline float lattice(int x, int y, int z, std::uint32_t seed) {
  std::uint64_t h = hash_combine(seed, (static_cast<std::uint64_t>(static_cast<std::uint32_t>(x)) << 32) ^
                                           (static_cast<std::uint64_t>(static_cast<std::uint32_t>(y)) << 16) ^
                                           static_cast<std::uint32_t>(z) * 0x9e3779b1u);
  return static_cast<float>(h >> 40) * (1.0f / 16777216.0f);
}

/// Trilinear value noise with smoothstep weights, one octave, in [0, 1].
inline float value_noise(Vec3 q, std::uint32_t seed) {
  const float fx = std::floor(q.x), fy = std::floor(q.y), fz = std::floor(q.z);
  const int x = static_cast<int>(fx), y = static_cast<int>(fy), z = static_cast<int>(fz);
  auto smooth = [](float t) { return t * t * (3 - 2 * t); };
  const float tx = smooth(q.x - fx), ty = smooth(q.y - fy), tz = smooth(q.z - fz);
  float c[2][2];
  for (int j = 0; j < 2; ++j)
    for (int k = 0; k < 2; ++k)
      c[j][k] = lerp(lattice(x, y + j, z + k, seed), lattice(x + 1, y + j, z + k, seed), tx);
  return lerp(lerp(c[0][0], c[1][0], ty), lerp(c[0][1], c[1][1], ty), tz);
}

/// Two octaves of value noise at `frequency` lattice cells per metre.
inline float fractal_noise(Vec3 q, float frequency, std::uint32_t seed) {
  return (2.0f * value_noise(q * frequency, seed) + value_noise(q * (2.0f * frequency), seed + 1u)) / 3.0f;
}

}  // namespace s4t::synthetic
