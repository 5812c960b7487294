#include "s4t/state_dict.hpp"

#include <caffe2/serialize/inline_container.h>
#include <caffe2/serialize/read_adapter_interface.h>
#include <torch/csrc/jit/serialization/import_read.h>
#include <torch/csrc/jit/serialization/pickle.h>
#include <torch/nn/module.h>

#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>
#include <set>
#include <sstream>

#include "s4t/error.hpp"

namespace fs = std::filesystem;

namespace s4t {

namespace {
std::string shape_text(at::IntArrayRef s) {
  std::string t = "[";
  for (size_t i = 0; i < s.size(); ++i) t += (i ? ", " : "") + std::to_string(s[i]);
  return t + "]";
}
}  // namespace

void write_file_atomically(const fs::path& path, const std::string& bytes) {
  if (path.has_parent_path()) fs::create_directories(path.parent_path());
  std::random_device rd;
  fs::path tmp = path;
  tmp += ".tmp-" + std::to_string(rd());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) throw Error("cannot write '" + tmp.string() + "': " + std::strerror(errno));
  size_t written = 0;
  while (written < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + written, bytes.size() - written);
    if (n < 0) {
      ::close(fd);
      ::unlink(tmp.c_str());
      throw Error("cannot write '" + tmp.string() + "': " + std::strerror(errno));
    }
    written += static_cast<size_t>(n);
  }
  ::fsync(fd);
  ::close(fd);
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) {
    fs::remove(tmp);
    throw Error("cannot rename '" + tmp.string() + "' to '" + path.string() + "': " + ec.message());
  }
}

namespace {
// torch.save files are zip archives of stored (uncompressed) entries, and LibTorch's reader does not
// check their CRC-32s: a flipped byte in a tensor would load silently. Walk the central directory and
// check every entry's CRC (zlib). Returns an empty string when all match, else what is wrong.
std::uint64_t read_le(const std::vector<char>& b, std::size_t at, int bytes) {
  std::uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(b[at + static_cast<std::size_t>(i)]);
  return v;
}

// LibTorch's unpickler reserves the length a string or bytes opcode declares before reading it, and
// sizes its memo by the index a put names: a corrupt data.pkl asked for gigabytes (found by fuzz/).
// Walk the opcodes (pickle protocols 0-5) and check every declared length against the bytes left. Unknown opcodes end the walk: the unpickler
// refuses them itself.
std::string pickle_problem(const char* p, std::size_t n) {
  auto le = [&](std::size_t at, int bytes) {
    std::uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[at + static_cast<std::size_t>(i)]);
    return v;
  };
  std::size_t at = 0;
  while (at < n) {
    const auto op = static_cast<unsigned char>(p[at++]);
    int fixed = -1, prefix = 0, lines = 0;
    switch (op) {
      case '.': return {};  // STOP
      case '(': case '0': case '1': case '2': case 'N': case 'Q': case 'R': case 'a': case 'b': case 'd': case '}':
      case 'e': case 'l': case ']': case 'o': case 's': case 't': case ')': case 'u': case 0x81: case 0x85: case 0x86:
      case 0x87: case 0x88: case 0x89: case 0x8f: case 0x90: case 0x91: case 0x92: case 0x93: case 0x94: case 0x97:
      case 0x98: fixed = 0; break;
      case 'K': case 'h': case 'q': case 0x80: case 0x82: fixed = 1; break;
      case 'M': case 0x83: fixed = 2; break;
      case 'J': case 'j': case 'r': case 0x84: fixed = 4; break;
      case 'G': case 0x95: fixed = 8; break;
      case 'U': case 0x8c: case 'C': case 0x8a: prefix = 1; break;
      case 'T': case 'X': case 'B': case 0x8b: prefix = 4; break;
      case 0x8d: case 0x8e: case 0x96: prefix = 8; break;
      case 'I': case 'L': case 'S': case 'V': case 'F': case 'p': case 'g': case 'P': lines = 1; break;
      case 'c': case 'i': lines = 2; break;
      default: return {};
    }
    if (fixed >= 0) {
      if (static_cast<std::size_t>(fixed) > n - at) return "holds a truncated pickle";
      // LONG_BINPUT / LONG_BINGET: the unpickler sizes its memo by the index; a pickler numbers its
      // memo entries one by one, so an index past the pickle's size is corrupt (one asked for 26 GB).
      if ((op == 'r' || op == 'j') && le(at, 4) > n) return "holds a pickle memo index past its size (the file is corrupt)";
      at += static_cast<std::size_t>(fixed);
    } else if (prefix > 0) {
      if (static_cast<std::size_t>(prefix) > n - at) return "holds a truncated pickle";
      const std::uint64_t len = le(at, prefix);
      at += static_cast<std::size_t>(prefix);
      if (len > n - at)
        return "holds a pickled string of " + std::to_string(len) + " bytes, more than the " + std::to_string(n - at) +
               " left (the file is corrupt)";
      at += static_cast<std::size_t>(len);
    } else {
      for (int l = 0; l < lines; ++l) {
        const void* end = std::memchr(p + at, '\n', n - at);
        if (!end) return "holds a truncated pickle";
        at = static_cast<std::size_t>(static_cast<const char*>(end) - p) + 1;
      }
    }
  }
  return {};
}

std::string zip_crc_problem(const std::vector<char>& b) {
  const std::size_t n = b.size();
  if (n < 22) return {};
  std::size_t eocd = std::string::npos;  // end of central directory record
  for (std::size_t i = n - 22 + 1; i-- > 0 && n - i <= 22 + 65535;)
    if (read_le(b, i, 4) == 0x06054b50) {
      eocd = i;
      break;
    }
  if (eocd == std::string::npos) return {};  // not a zip: the unpickler says what it is
  std::uint64_t entries = read_le(b, eocd + 10, 2), cd = read_le(b, eocd + 16, 4);
  if ((entries == 0xFFFF || cd == 0xFFFFFFFF) && eocd >= 20 && read_le(b, eocd - 20, 4) == 0x07064b50) {
    const std::uint64_t z64 = read_le(b, eocd - 20 + 8, 8);  // zip64 end of central directory record
    if (z64 > n || n - z64 < 56 || read_le(b, z64, 4) != 0x06064b50) return "its zip64 directory is corrupt";
    entries = read_le(b, z64 + 32, 8);
    cd = read_le(b, z64 + 48, 8);
  }
  std::size_t at = cd;
  for (std::uint64_t e = 0; e < entries; ++e) {
    // Offsets and sizes come from the file (64-bit in zip64): compared without overflowing.
    if (at > n || n - at < 46 || read_le(b, at, 4) != 0x02014b50) return "its zip directory is corrupt";
    const auto method = read_le(b, at + 10, 2);
    const auto crc = read_le(b, at + 16, 4);
    std::uint64_t size = read_le(b, at + 24, 4), offset = read_le(b, at + 42, 4);
    const auto name_len = read_le(b, at + 28, 2), extra_len = read_le(b, at + 30, 2), comment_len = read_le(b, at + 32, 2);
    if (at + 46 + name_len + extra_len > n) return "its zip directory is truncated";
    const std::string name(b.data() + at + 46, name_len);
    const std::size_t extra_end = at + 46 + name_len + extra_len;
    for (std::size_t x = at + 46 + name_len; x + 4 <= extra_end;) {  // zip64 sizes
      const auto id = read_le(b, x, 2), len = read_le(b, x + 2, 2);
      if (x + 4 + len > extra_end) return "entry '" + name + "' has a truncated extra field";
      if (id == 0x0001) {
        std::size_t f = x + 4;
        auto field = [&](std::uint64_t& out) {  // the next 8-byte value, if the field holds it
          if (f + 8 > x + 4 + len) return false;
          out = read_le(b, f, 8);
          f += 8;
          return true;
        };
        std::uint64_t skipped = 0;
        if (read_le(b, at + 24, 4) == 0xFFFFFFFF && !field(size)) return "entry '" + name + "' has a truncated zip64 field";
        if (read_le(b, at + 20, 4) == 0xFFFFFFFF && !field(skipped)) return "entry '" + name + "' has a truncated zip64 field";
        if (read_le(b, at + 42, 4) == 0xFFFFFFFF && !field(offset)) return "entry '" + name + "' has a truncated zip64 field";
      }
      x += 4 + len;
    }
    if (offset > n || n - offset < 30 || read_le(b, offset, 4) != 0x04034b50) return "entry '" + name + "' has no local header";
    const std::size_t data = offset + 30 + read_le(b, offset + 26, 2) + read_le(b, offset + 28, 2);
    if (method == 0) {
      if (data > n || size > n - data) return "entry '" + name + "' is truncated";
      std::uint64_t actual = crc32(0L, Z_NULL, 0);
      for (std::uint64_t done = 0; done < size;) {  // zlib takes 32-bit lengths
        const auto chunk = static_cast<uInt>(std::min<std::uint64_t>(size - done, 1u << 30));
        actual = crc32(actual, reinterpret_cast<const Bytef*>(b.data() + data + done), chunk);
        done += chunk;
      }
      if (actual != crc) return "entry '" + name + "' fails its CRC-32 check (the file is corrupt)";
      const bool pickle = name.size() >= 4 && name.compare(name.size() - 4, 4, ".pkl") == 0;  // data.pkl, constants.pkl
      if (pickle)
        if (auto problem = pickle_problem(b.data() + data, static_cast<std::size_t>(size)); !problem.empty())
          return "entry '" + name + "' " + problem;
    }
    at += 46 + name_len + extra_len + comment_len;
  }
  return {};
}

// LibTorch's pickle_load(std::vector<char>) reads the bytes through an adapter that copies whatever
// miniz asks for, past the end of the buffer when a corrupt zip directory points there (a heap overflow
// found by fuzz/). This adapter returns short reads instead, which miniz reports as an error.
class BoundedBytes final : public caffe2::serialize::ReadAdapterInterface {
 public:
  explicit BoundedBytes(const std::vector<char>& bytes) : bytes_(bytes) {}
  size_t size() const override { return bytes_.size(); }
  size_t read(uint64_t pos, void* buf, size_t n, const char* /*what*/) const override {
    if (pos >= bytes_.size()) return 0;
    n = std::min<size_t>(n, bytes_.size() - static_cast<size_t>(pos));
    std::memcpy(buf, bytes_.data() + pos, n);
    return n;
  }

 private:
  const std::vector<char>& bytes_;
};

// What torch::jit::pickle_load does, through BoundedBytes.
c10::IValue load_pickled(const std::vector<char>& bytes) {
  caffe2::serialize::PyTorchStreamReader reader(std::make_shared<BoundedBytes>(bytes));
  return torch::jit::readArchiveAndTensors("data", /*pickle_prefix=*/"", /*tensor_prefix=*/"", c10::nullopt, c10::nullopt,
                                           c10::nullopt, reader);
}
}  // namespace

std::string torch_archive_problem(const std::vector<char>& bytes) { return zip_crc_problem(bytes); }

namespace {
// LibTorch 1.13's unpickler gives a tensor the shape and strides the pickle declares over whatever
// storage record it names, without checking that the storage holds them: reading such a tensor reads past
// its buffer (found by fuzz/). Whether the largest element a tensor addresses lies inside its storage.
bool within_storage(const at::Tensor& t) {
  if (!t.defined() || t.numel() == 0 || !t.has_storage() || t.is_sparse()) return true;
  if (t.storage_offset() < 0) return false;
  unsigned __int128 last = static_cast<unsigned __int128>(t.storage_offset());
  for (int64_t d = 0; d < t.dim(); ++d) {
    if (t.stride(d) < 0) return false;
    last += static_cast<unsigned __int128>(t.size(d) - 1) * static_cast<unsigned __int128>(t.stride(d));
  }
  return (last + 1) * static_cast<unsigned __int128>(t.element_size()) <= t.storage().nbytes();
}
}  // namespace

StateDict read_state_dict(const fs::path& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) throw DataError("'" + path.string() + "' is a directory; expected a torch.save file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw DataError("cannot open state dict '" + path.string() + "'");
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (auto problem = zip_crc_problem(bytes); !problem.empty())
    throw DataError("'" + path.string() + "' is corrupt: " + problem);
  c10::IValue value;
  try {
    value = load_pickled(bytes);
  } catch (const std::exception& e) {
    throw DataError("'" + path.string() + "' is not a torch.save file: " + e.what());
  }
  if (!value.isGenericDict()) throw DataError("'" + path.string() + "' does not hold a dict (expected a state_dict)");
  StateDict out;
  for (auto& item : value.toGenericDict()) {
    if (!item.key().isString())
      throw DataError("'" + path.string() + "': state dict key is not a string");
    if (!item.value().isTensor()) continue;  // e.g. "_metadata" or non-tensor extras
    if (!within_storage(item.value().toTensor()))
      throw DataError("'" + path.string() + "' is corrupt: tensor '" + item.key().toStringRef() +
                      "' declares more elements than its storage holds");
    out[item.key().toStringRef()] = item.value().toTensor();
  }
  return out;
}

void write_state_dict(const fs::path& path, const StateDict& state) {
  c10::Dict<std::string, at::Tensor> dict;
  for (auto& [k, v] : state) dict.insert(k, v.detach().cpu().contiguous());
  auto bytes = torch::jit::pickle_save(c10::IValue(dict));
  write_file_atomically(path, std::string(bytes.begin(), bytes.end()));
}

StateDict state_dict_of(torch::nn::Module& module) {
  StateDict out;
  for (auto& p : module.named_parameters(true)) out[p.key()] = p.value();
  for (auto& b : module.named_buffers(true)) out[b.key()] = b.value();
  return out;
}

LoadReport load_state_dict(torch::nn::Module& module, const StateDict& state, const std::string& prefix, bool strict) {
  LoadReport report;
  auto own = state_dict_of(module);
  std::set<std::string> seen;
  at::NoGradGuard no_grad;
  for (auto& [name, target] : own) {
    auto it = state.find(prefix + name);
    if (it == state.end()) {
      report.missing.push_back(name);
      continue;
    }
    seen.insert(it->first);
    if (!it->second.sizes().equals(target.sizes()))
      throw DataError("tensor '" + name + "' has shape " + shape_text(it->second.sizes()) + " in the file but " +
                      shape_text(target.sizes()) + " in the model");
    target.copy_(it->second);
    report.loaded.push_back(name);
  }
  for (auto& [name, t] : state)
    if (name.rfind(prefix, 0) == 0 && !seen.count(name)) report.unexpected.push_back(name);
  if (strict && (!report.missing.empty() || !report.unexpected.empty())) {
    std::string msg = "state dict does not match the model:";
    if (!report.missing.empty()) msg += " missing " + report.missing.front() + (report.missing.size() > 1 ? " (+" + std::to_string(report.missing.size() - 1) + " more)" : "");
    if (!report.unexpected.empty()) msg += " unexpected " + report.unexpected.front() + (report.unexpected.size() > 1 ? " (+" + std::to_string(report.unexpected.size() - 1) + " more)" : "");
    throw DataError(msg);
  }
  return report;
}

}  // namespace s4t
