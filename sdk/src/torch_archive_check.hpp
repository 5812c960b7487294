#pragma once
// The checks read_state_dict and torch_archive_problem (s4t/state_dict.hpp) make on a torch.save /
// torch::serialize zip archive before LibTorch 1.13 reads it. LibTorch trusts the archive: it does not
// check CRC-32s, reserves the lengths a pickle declares, sizes its memo by the index a pickle names, and
// gives a storage the size its pickle claims over the record's real, possibly shorter, buffer. Each was a
// finding of fuzz/ (docs/fuzzing.md). Internal to state_dict.cpp; header-only so that the fuzz build,
// which lists the reader sources, compiles it with them.
#include <c10/core/ScalarType.h>
#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace s4t::archive_check {

inline std::uint64_t read_le(const char* p, std::size_t at, int bytes) {
  std::uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[at + static_cast<std::size_t>(i)]);
  return v;
}

// miniz, LibTorch's zip reader, finds records by name ignoring ASCII case.
inline std::string lower_ascii(std::string_view s) {
  std::string out(s);
  for (auto& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

/// The size of every record of the archive by lower-case name (the smallest where names repeat: miniz
/// may pick either).
using RecordSizes = std::map<std::string, std::uint64_t>;

// Bytes per element of the scalar type a storage global ("torch.FloatStorage") pushes, as LibTorch's
// unpickler knows them; 0 for a number that is no such type.
inline std::size_t storage_element_size(std::int64_t type) {
#define S4T_STORAGE_SIZE(ctype, name) \
  if (type == static_cast<std::int64_t>(c10::ScalarType::name)) return sizeof(ctype);
  AT_FORALL_SCALAR_TYPES_WITH_COMPLEX_AND_QINTS(S4T_STORAGE_SIZE)
#undef S4T_STORAGE_SIZE
  return 0;
}
inline bool storage_type_of(std::string_view class_name, std::int64_t& type) {
#define S4T_STORAGE_TYPE(ctype, name)                       \
  if (class_name == #name "Storage") {                      \
    type = static_cast<std::int64_t>(c10::ScalarType::name); \
    return true;                                            \
  }
  AT_FORALL_SCALAR_TYPES_WITH_COMPLEX_AND_QINTS(S4T_STORAGE_TYPE)
#undef S4T_STORAGE_TYPE
  return false;
}

// What the walk knows of a value on the unpickler's stack: enough to read a storage reference, the tuple
// ('storage', type, key, device, numel) that BINPERSID turns into a storage of numel elements.
struct PickleValue {
  enum Kind { Other, Text, Integer, Tuple } kind = Other;
  std::string_view text;  // Text: a view into the pickle
  std::int64_t integer = 0;
  std::shared_ptr<const std::vector<PickleValue>> items;  // Tuple
};

/// Empty when the pickle `p[0, n)` of the archive entry whose storages are the records under
/// `tensor_dir` (lower case) is safe to give LibTorch's unpickler, else what is wrong. Walks the opcodes
/// (pickle protocols 0-5), checking every declared length against the bytes left, and follows the
/// unpickler's stack through the opcodes it implements (LibTorch 1.13 and 2.x: torch/csrc/jit/
/// serialization/unpickler.cpp), checking every storage a BINPERSID creates against its record. Past an
/// opcode the unpickler refuses, only lengths are checked: it stops there itself.
inline std::string pickle_problem(const char* p, std::size_t n, const std::string& tensor_dir,
                                  const RecordSizes& records) {
  std::vector<PickleValue> stack;
  std::vector<std::size_t> marks;
  std::unordered_map<std::uint64_t, PickleValue> memo;
  std::uint64_t memo_size = 0;  // the unpickler's memo table: one past the highest index put
  bool following = true;
  int skipped_globals = 0;  // 2.x: the second global after _rebuild_from_type_v2 pushes an index
  const std::string corrupt = " (the file is corrupt)";
  auto push = [&](PickleValue v) { stack.push_back(std::move(v)); };
  auto number = [](std::int64_t v) {
    PickleValue out;
    out.kind = PickleValue::Integer;
    out.integer = v;
    return out;
  };
  auto tuple_of = [&](std::size_t from) {
    PickleValue out;
    out.kind = PickleValue::Tuple;
    out.items = std::make_shared<const std::vector<PickleValue>>(stack.begin() + static_cast<std::ptrdiff_t>(from), stack.end());
    stack.resize(from);
    return out;
  };
  // A container opcode whose MARK lies above the stack (items popped since) makes 1.13's unpickler index
  // past its stack, and an odd number of dict items makes it read one past: refused.
  auto mark_problem = [&](std::size_t start, bool pairs) -> std::string {
    if (start > stack.size()) return "holds a pickle container whose MARK is gone" + corrupt;
    if (pairs && (stack.size() - start) % 2 != 0) return "holds a pickled dict with a key but no value" + corrupt;
    return {};
  };
  auto storage_problem = [&](const PickleValue& ref) -> std::string {
    // The unpickler reads ref[1] as the scalar type, ref[2] as the record's key and ref[4] as numel.
    const bool readable = ref.kind == PickleValue::Tuple && ref.items->size() >= 5 &&
                          (*ref.items)[1].kind == PickleValue::Integer && (*ref.items)[2].kind == PickleValue::Text &&
                          (*ref.items)[4].kind == PickleValue::Integer;
    if (!readable) return "holds a storage reference that is not ('storage', type, key, device, size)" + corrupt;
    const auto& items = *ref.items;
    const std::size_t element = storage_element_size(items[1].integer);
    if (element == 0) return "holds a storage of unknown type " + std::to_string(items[1].integer) + corrupt;
    const std::string key(items[2].text);
    const std::int64_t numel = items[4].integer;
    if (numel < 0) return "holds storage '" + key + "' of " + std::to_string(numel) + " elements" + corrupt;
    if (numel == 0) return {};  // the unpickler reads no record for it
    auto record = records.find(tensor_dir + lower_ascii(key));
    if (record == records.end()) return "names storage '" + key + "', which the archive lacks" + corrupt;
    if (static_cast<std::uint64_t>(numel) > record->second / element)
      return "declares storage '" + key + "' of " + std::to_string(numel) + " elements of " + std::to_string(element) +
             " bytes, more than its record's " + std::to_string(record->second) + " bytes" + corrupt;
    return {};
  };

  std::size_t at = 0;
  while (at < n) {
    const std::size_t op_at = at;
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
      default: return {};  // not a pickle opcode: the unpickler refuses it
    }
    const std::size_t arg = at;
    std::uint64_t len = 0;
    std::size_t line_end[2] = {0, 0};
    if (fixed >= 0) {
      if (static_cast<std::size_t>(fixed) > n - at) return "holds a truncated pickle";
      // LONG_BINPUT / LONG_BINGET: the unpickler sizes its memo by the index; a pickler numbers its
      // memo entries one by one, so an index past the pickle's size is corrupt (one asked for 26 GB).
      if ((op == 'r' || op == 'j') && read_le(p, at, 4) > n) return "holds a pickle memo index past its size" + corrupt;
      at += static_cast<std::size_t>(fixed);
    } else if (prefix > 0) {
      if (static_cast<std::size_t>(prefix) > n - at) return "holds a truncated pickle";
      len = read_le(p, at, prefix);
      at += static_cast<std::size_t>(prefix);
      if (len > n - at)
        return "holds a pickled string of " + std::to_string(len) + " bytes, more than the " + std::to_string(n - at) +
               " left" + corrupt;
      at += static_cast<std::size_t>(len);
    } else {
      for (int l = 0; l < lines; ++l) {
        const void* end = std::memchr(p + at, '\n', n - at);
        if (!end) return "holds a truncated pickle";
        line_end[l] = static_cast<std::size_t>(static_cast<const char*>(end) - p);
        at = line_end[l] + 1;
      }
    }
    if (!following) continue;
    // The stack effect of each opcode the unpickler implements; where it would throw, it stops.
    bool stops = false;
    std::string problem;
    switch (op) {
      case 0x80: stops = op_at != 0; break;  // PROTO: only first
      case ']': case '}': case 'N': case 0x88: case 0x89: case 'G': push({}); break;
      case ')': push(tuple_of(stack.size())); break;
      case 'K': push(number(static_cast<std::int64_t>(read_le(p, arg, 1)))); break;
      case 'M': push(number(static_cast<std::int64_t>(read_le(p, arg, 2)))); break;
      case 'J': push(number(static_cast<std::int32_t>(read_le(p, arg, 4)))); break;
      case 0x8a:  // LONG1: 8 bytes only
        if (len != 8) stops = true;
        else push(number(static_cast<std::int64_t>(read_le(p, arg + 1, 8))));
        break;
      case 'X': {
        PickleValue v;
        v.kind = PickleValue::Text;
        v.text = std::string_view(p + arg + 4, static_cast<std::size_t>(len));
        push(v);
        break;
      }
      case 'q': case 'r': {
        if (stack.empty()) { stops = true; break; }
        const std::uint64_t id = read_le(p, arg, op == 'q' ? 1 : 4);
        memo[id] = stack.back();
        memo_size = std::max(memo_size, id + 1);
        break;
      }
      case 'h': case 'j': {
        const std::uint64_t id = read_le(p, arg, op == 'h' ? 1 : 4);
        if (id >= memo_size) { stops = true; break; }
        auto it = memo.find(id);
        push(it == memo.end() ? PickleValue{} : it->second);
        break;
      }
      case '(': marks.push_back(stack.size()); break;
      case 't': case 'l': case 'd': {  // TUPLE, LIST, DICT: the items since the last MARK
        if (marks.empty()) { stops = true; break; }
        const std::size_t start = marks.back();
        marks.pop_back();
        problem = mark_problem(start, op == 'd');
        if (!problem.empty()) break;
        if (op == 't') {
          push(tuple_of(start));
        } else {
          stack.resize(start);
          push({});
        }
        break;
      }
      case 0x85: case 0x86: case 0x87: {  // TUPLE1-3
        const std::size_t k = op - 0x84u;
        if (stack.size() < k) stops = true;
        else push(tuple_of(stack.size() - k));
        break;
      }
      case 'e': case 'u': {  // APPENDS, SETITEMS: the items since the last MARK into the container below it
        if (marks.empty() || marks.back() == 0 || marks.back() > stack.size()) { stops = true; break; }
        const std::size_t start = marks.back();
        marks.pop_back();
        problem = mark_problem(start, op == 'u');
        if (problem.empty()) stack.resize(start);
        break;
      }
      case 's':  // SETITEM (2.x)
        if (stack.size() < 3) stops = true;
        else stack.resize(stack.size() - 2);
        break;
      case 'c': {  // GLOBAL: one value, a storage type's number for torch.<Type>Storage
        const std::string_view module(p + arg, line_end[0] - arg);
        const std::string_view name(p + line_end[0] + 1, line_end[1] - line_end[0] - 1);
        PickleValue v;
        std::int64_t type = 0;
        const bool skipped = skipped_globals > 0 && --skipped_globals == 0;
        if (!skipped && module == "torch._tensor" && name == "_rebuild_from_type_v2") skipped_globals = 2;
        if (!skipped && module == "torch" && storage_type_of(name, type)) v = number(type);
        push(v);
        break;
      }
      case 0x81:  // NEWOBJ
        if (stack.empty()) stops = true;
        else stack.pop_back();
        break;
      case 'b': case 'R':  // BUILD, REDUCE: a global's function replaces its argument
        if (stack.size() < 2) stops = true;
        else {
          stack.resize(stack.size() - 2);
          push({});
        }
        break;
      case 'Q': {  // BINPERSID: a storage over a record
        if (stack.empty()) { stops = true; break; }
        const PickleValue ref = stack.back();
        stack.pop_back();
        problem = storage_problem(ref);
        push({});
        break;
      }
      default: stops = true;  // an opcode LibTorch's unpickler does not implement
    }
    if (!problem.empty()) return problem;
    if (stops || (op_at == 0 && op != 0x80)) following = false;
  }
  return {};
}

/// Empty when the zip archive `b` is safe to give LibTorch's reader, else what is wrong: every entry
/// inside the file, every stored entry's CRC-32 right, every pickle passing pickle_problem. A file that is
/// no zip at all passes (LibTorch's reader refuses it).
inline std::string zip_problem(const std::vector<char>& bytes) {
  const char* b = bytes.data();
  const std::size_t n = bytes.size();
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
  struct Entry {
    std::string name;
    std::uint64_t method, size;
    std::size_t data;
  };
  std::vector<Entry> list;
  RecordSizes records;
  std::size_t at = cd;
  for (std::uint64_t e = 0; e < entries; ++e) {
    // Offsets and sizes come from the file (64-bit in zip64): compared without overflowing.
    if (at > n || n - at < 46 || read_le(b, at, 4) != 0x02014b50) return "its zip directory is corrupt";
    const auto method = read_le(b, at + 10, 2);
    const auto crc = read_le(b, at + 16, 4);
    std::uint64_t size = read_le(b, at + 24, 4), packed = read_le(b, at + 20, 4), offset = read_le(b, at + 42, 4);
    const auto name_len = read_le(b, at + 28, 2), extra_len = read_le(b, at + 30, 2), comment_len = read_le(b, at + 32, 2);
    if (at + 46 + name_len + extra_len > n) return "its zip directory is truncated";
    const std::string name(b + at + 46, name_len);
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
        if (read_le(b, at + 24, 4) == 0xFFFFFFFF && !field(size)) return "entry '" + name + "' has a truncated zip64 field";
        if (read_le(b, at + 20, 4) == 0xFFFFFFFF && !field(packed)) return "entry '" + name + "' has a truncated zip64 field";
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
        actual = crc32(actual, reinterpret_cast<const Bytef*>(b + data + done), chunk);
        done += chunk;
      }
      if (actual != crc) return "entry '" + name + "' fails its CRC-32 check (the file is corrupt)";
    } else {
      // LibTorch allocates the uncompressed size the directory claims before inflating: a claim deflate
      // cannot reach from the bytes in the file (at most about 1032:1) would be gigabytes for nothing.
      if (data > n || packed > n - data) return "entry '" + name + "' is truncated";
      if (size / 1032 > packed + 1)
        return "entry '" + name + "' claims " + std::to_string(size) + " bytes from " + std::to_string(packed) +
               " compressed, more than deflate gives (the file is corrupt)";
    }
    auto [record, added] = records.emplace(lower_ascii(name), size);
    if (!added) record->second = std::min(record->second, size);
    list.push_back({name, method, size, data});
    at += 46 + name_len + extra_len + comment_len;
  }
  // The pickles (data.pkl, constants.pkl; and the TorchScript source ranges, *.debug_pkl), each with the
  // records under the folder of its name (archive/data.pkl: archive/data/).
  for (const auto& entry : list) {
    const std::string name = lower_ascii(entry.name);
    const bool pickle = name.size() >= 4 && name.compare(name.size() - 4, 4, ".pkl") == 0;
    const bool debug = name.size() >= 10 && name.compare(name.size() - 10, 10, ".debug_pkl") == 0;
    if (!pickle && !debug) continue;
    // torch.save and torch::serialize store their pickles; a compressed one would escape these checks.
    if (entry.method != 0) {
      if (pickle) return "entry '" + entry.name + "' is a compressed pickle (torch.save stores them uncompressed)";
      continue;
    }
    const std::string tensor_dir = name.substr(0, name.size() - 4) + "/";
    if (auto problem = pickle_problem(b + entry.data, static_cast<std::size_t>(entry.size), tensor_dir, records);
        !problem.empty())
      return "entry '" + entry.name + "' " + problem;
  }
  return {};
}

}  // namespace s4t::archive_check
