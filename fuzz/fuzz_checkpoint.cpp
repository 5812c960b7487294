// Fuzz target: the checkpoint reader (host/src/engine/checkpoint.cpp on top of sdk/src/state_dict.cpp:
// the zip CRC-32 walk, LibTorch's unpickler, loading by name, the optimizer state and the meta values).
//
// Contract (engine/checkpoint.hpp, s4t/state_dict.hpp): load_checkpoint either loads the file into the
// model and optimizer or throws s4t::Error (DataError from read_state_dict is one) naming the file.
// Anything else is a finding: a crash or sanitizer report, an allocation the file's size does not
// justify, or another exception escaping -- notably a raw c10::Error from LibTorch, which the
// header promises to turn into an s4t::Error naming the checkpoint.
//
// Each input is loaded as it is (the CRC-32 walk of state_dict.cpp refuses nearly every mutation of an
// entry's bytes) and, with S4T_FUZZ_FIX_CRC=1, a second time with the CRC-32s of its stored entries
// recomputed, so that mutations of the pickle and the tensor data reach LibTorch's unpickler and the
// loading code behind it. That mode is off by default (docs/fuzzing.md says what it has found).
#include <torch/nn/modules/linear.h>
#include <torch/optim/adam.h>

#include <zlib.h>

#include <vector>

#include "engine/checkpoint.hpp"
#include "fuzz_support.hpp"
#include "fuzz_checkpoint_model.hpp"
#include "s4t/error.hpp"

namespace {
std::uint64_t le(const std::vector<std::uint8_t>& b, std::size_t at, int bytes) {
  std::uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | b[at + static_cast<std::size_t>(i)];
  return v;
}
void put32(std::vector<std::uint8_t>& b, std::size_t at, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) b[at + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(v >> (8 * i));
}

// Rewrites the CRC-32 of every stored entry (central directory and local header) that lies inside the
// file; plain zip only (no zip64). Returns whether anything changed.
bool fix_crcs(std::vector<std::uint8_t>& b) {
  const std::size_t n = b.size();
  if (n < 22) return false;
  std::size_t eocd = 0;
  bool found = false;
  for (std::size_t i = n - 22 + 1; i-- > 0 && n - i <= 22 + 65535;)
    if (le(b, i, 4) == 0x06054b50) {
      eocd = i;
      found = true;
      break;
    }
  if (!found) return false;
  bool changed = false;
  std::size_t at = le(b, eocd + 16, 4);
  for (std::uint64_t e = 0, entries = le(b, eocd + 10, 2); e < entries; ++e) {
    if (at > n || n - at < 46 || le(b, at, 4) != 0x02014b50) break;
    const std::size_t size = le(b, at + 24, 4), offset = le(b, at + 42, 4);
    const std::size_t next = at + 46 + le(b, at + 28, 2) + le(b, at + 30, 2) + le(b, at + 32, 2);
    if (le(b, at + 10, 2) == 0 && offset <= n && n - offset >= 30 && le(b, offset, 4) == 0x04034b50) {
      const std::size_t start = offset + 30 + le(b, offset + 26, 2) + le(b, offset + 28, 2);
      if (start <= n && size <= n - start) {
        const auto crc = static_cast<std::uint32_t>(crc32(0L, b.data() + start, static_cast<uInt>(size)));
        changed |= le(b, at + 16, 4) != crc;
        put32(b, at + 16, crc);
        put32(b, offset + 14, crc);
      }
    }
    at = next;
  }
  return changed;
}

void load(const std::uint8_t* data, std::size_t size) {
  static auto model = s4t::fuzz::make_checkpoint_model();
  static torch::optim::Adam optimizer(model->parameters(), torch::optim::AdamOptions(1e-3));
  const auto file = s4t::fuzz::write_input("checkpoint.pt", data, size);
  try {
    s4t::host::load_checkpoint(file, *model, &optimizer, "method.");
    s4t::fuzz::note("accepted");
  } catch (const s4t::Error& e) {
    s4t::fuzz::note(std::string("refused: ") + e.what());
  }
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  load(data, size);
  static const bool fix = std::getenv("S4T_FUZZ_FIX_CRC") && std::string(std::getenv("S4T_FUZZ_FIX_CRC")) == "1";
  if (!fix) return 0;
  std::vector<std::uint8_t> fixed(data, data + size);
  if (fix_crcs(fixed)) load(fixed.data(), fixed.size());
  return 0;
}
