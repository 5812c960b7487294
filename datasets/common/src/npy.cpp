#include "s4t_data/npy.hpp"

#include <algorithm>
#include <cstring>
#include <fstream>

#include "s4t/error.hpp"
#include "s4t_data/file_io.hpp"

namespace s4t::data {

namespace {

bool parse_descr(const std::string& descr, char& kind, int& size) {
  if (descr.size() < 2) return false;
  std::string body = descr;
  const char order = descr[0];
  if (order == '<' || order == '|' || order == '=') body = descr.substr(1);
  else if (order == '>') {
    body = descr.substr(1);
    // Big-endian multi-byte data: refused below by the caller (only single bytes are order-free).
    kind = body.empty() ? '?' : body[0];
    size = body.size() > 1 ? std::atoi(body.c_str() + 1) : 0;
    return size == 1 && (kind == 'u' || kind == 'i' || kind == 'b');  // '>f1' is no dtype (read 8 bytes per element once)
  }
  if (body.size() < 2) return false;
  kind = body[0];
  size = std::atoi(body.c_str() + 1);
  switch (kind) {
    case 'f': return size == 4 || size == 8;
    case 'u': return size == 1 || size == 2 || size == 4;
    case 'i': return size == 1 || size == 2 || size == 4 || size == 8;
    case 'b': return size == 1;
    default: return false;
  }
}

// Value of `key` in the header dict: the text after "'key':" up to the matching delimiter.
std::string dict_value(const std::string& header, const std::string& key) {
  const auto k = header.find("'" + key + "'");
  if (k == std::string::npos) return {};
  auto p = header.find(':', k);
  if (p == std::string::npos) return {};
  ++p;
  while (p < header.size() && header[p] == ' ') ++p;
  if (p >= header.size()) return {};
  if (header[p] == '\'') {
    const auto e = header.find('\'', p + 1);
    return e == std::string::npos ? std::string() : header.substr(p + 1, e - p - 1);
  }
  if (header[p] == '(') {
    const auto e = header.find(')', p);
    return e == std::string::npos ? std::string() : header.substr(p, e - p + 1);
  }
  auto e = header.find_first_of(",}", p);
  if (e == std::string::npos) e = header.size();
  auto v = header.substr(p, e - p);
  while (!v.empty() && v.back() == ' ') v.pop_back();
  return v;
}

}  // namespace

std::int64_t NpyArray::count() const {
  // A zero dimension first: (10^12, 10^12, 0) is empty, and its other dimensions would overflow.
  if (std::find(shape.begin(), shape.end(), 0) != shape.end()) return 0;
  std::int64_t n = 1;
  for (auto d : shape) n *= d;  // bounded by the file's size for arrays read_npy returns
  return n;
}

double NpyArray::at(std::int64_t i) const {
  const std::uint8_t* p = data.data() + i * item_size;
  switch (kind) {
    case 'f':
      if (item_size == 4) { float v; std::memcpy(&v, p, 4); return v; }
      else { double v; std::memcpy(&v, p, 8); return v; }
    case 'u':
      if (item_size == 1) return *p;
      if (item_size == 2) { std::uint16_t v; std::memcpy(&v, p, 2); return v; }
      { std::uint32_t v; std::memcpy(&v, p, 4); return v; }
    case 'i':
      if (item_size == 1) return static_cast<std::int8_t>(*p);
      if (item_size == 2) { std::int16_t v; std::memcpy(&v, p, 2); return v; }
      if (item_size == 4) { std::int32_t v; std::memcpy(&v, p, 4); return v; }
      { std::int64_t v; std::memcpy(&v, p, 8); return static_cast<double>(v); }
    case 'b': return *p ? 1.0 : 0.0;
  }
  return 0.0;
}

namespace {

struct NpyHeader {
  NpyArray array;         // descr, kind, item_size, shape (no data)
  bool fortran = false;
  std::size_t data_offset = 0;
  std::size_t data_bytes = 0;
  std::string shape_text;
};

// Reads and parses the header; leaves `in` positioned at the data.
NpyHeader read_header(std::ifstream& in, const std::filesystem::path& file, const std::string& what) {
  static const char magic[] = "\x93NUMPY";
  char pre[12] = {0};
  in.read(pre, 10);
  if (in.gcount() < 10 || std::memcmp(pre, magic, 6) != 0) fail(file, "not a NumPy .npy file (" + what + "): bad magic string");
  const int major = static_cast<unsigned char>(pre[6]);
  std::size_t header_len = 0, offset = 0;
  auto byte = [&](int i) { return static_cast<std::size_t>(static_cast<unsigned char>(pre[i])); };
  if (major == 1) {
    header_len = byte(8) | (byte(9) << 8);
    offset = 10;
  } else if (major == 2 || major == 3) {
    in.read(pre + 10, 2);
    if (in.gcount() < 2) fail(file, "truncated .npy header (" + what + ")");
    header_len = byte(8) | (byte(9) << 8) | (byte(10) << 16) | (byte(11) << 24);
    offset = 12;
  } else {
    fail(file, "unsupported .npy format version " + std::to_string(major) + " (" + what + ")");
  }
  {
    // A version 2/3 header length is 32 bits: check it against the file before allocating for it.
    const auto at = in.tellg();
    in.seekg(0, std::ios::end);
    const auto size = in.tellg();
    in.seekg(at);
    const std::size_t left = size > at ? static_cast<std::size_t>(size - at) : 0;
    if (header_len > left)
      fail(file, "truncated .npy header (" + what + "): it declares " + std::to_string(header_len) +
                     " bytes, the file holds " + std::to_string(left) + " after the length field");
  }
  std::string header(header_len, '\0');
  in.read(header.data(), static_cast<std::streamsize>(header_len));
  if (static_cast<std::size_t>(in.gcount()) < header_len) fail(file, "truncated .npy header (" + what + ")");

  NpyHeader h;
  NpyArray& a = h.array;
  a.descr = dict_value(header, "descr");
  if (!parse_descr(a.descr, a.kind, a.item_size))
    fail(file, what + ": unsupported .npy dtype '" + a.descr +
                   "' (expected one of <f4 <f8 |u1 |i1 |b1 <u2 <i2 <i4 <u4 <i8, little-endian)");
  const std::string fortran = dict_value(header, "fortran_order");
  if (fortran != "True" && fortran != "False") fail(file, what + ": .npy header has no valid 'fortran_order'");
  h.fortran = fortran == "True";
  h.shape_text = dict_value(header, "shape");
  if (h.shape_text.size() < 2 || h.shape_text.front() != '(') fail(file, what + ": .npy header has no valid 'shape'");
  std::string digits;
  for (std::size_t i = 1; i < h.shape_text.size(); ++i) {
    const char c = h.shape_text[i];
    if (c >= '0' && c <= '9') digits.push_back(c);
    else if (c == ',' || c == ')') {
      if (digits.size() > 12) fail(file, what + ": .npy shape " + h.shape_text + " has an absurd dimension");
      if (!digits.empty()) a.shape.push_back(std::stoll(digits));
      digits.clear();
    } else if (c != ' ' && c != 'L') {
      fail(file, what + ": cannot parse .npy shape " + h.shape_text);
    }
  }
  h.data_offset = offset + header_len;
  // The header's shape is checked against the file before anything is allocated for it: a corrupt or
  // hostile header must not ask for terabytes. Dimensions are < 10^12, so the product is checked as it grows.
  const auto here = in.tellg();
  in.seekg(0, std::ios::end);
  const auto end = in.tellg();
  in.seekg(here);
  const std::size_t available = end > here ? static_cast<std::size_t>(end - here) : 0;
  std::size_t bytes = std::find(a.shape.begin(), a.shape.end(), 0) != a.shape.end() ? 0 : static_cast<std::size_t>(a.item_size);
  for (auto d : a.shape) {
    if (bytes == 0) break;
    if (bytes > available / static_cast<std::size_t>(d)) {  // bytes * d > available, without overflowing
      bytes = available + 1;
      break;
    }
    bytes *= static_cast<std::size_t>(d);
  }
  if (bytes > available)
    fail(file, what + ": truncated .npy data: shape " + h.shape_text + " of " + a.descr + " needs more than the " +
                   std::to_string(available) + " bytes the file holds");
  h.data_bytes = bytes;
  return h;
}

void read_payload(std::ifstream& in, char* out, const NpyHeader& h, const std::filesystem::path& file, const std::string& what) {
  in.read(out, static_cast<std::streamsize>(h.data_bytes));
  const auto got = static_cast<std::size_t>(in.gcount());
  if (got < h.data_bytes)
    fail(file, what + ": truncated .npy data: shape " + h.shape_text + " of " + h.array.descr + " needs " +
                   std::to_string(h.data_bytes) + " bytes, the file holds " + std::to_string(got));
}

std::ifstream open_npy(const std::filesystem::path& file, const std::string& what) {
  std::error_code ec;
  if (!std::filesystem::exists(file, ec)) throw DataError(what + " not found: " + file.string());
  std::ifstream in(file, std::ios::binary);
  if (!in) fail(file, "cannot open " + what + " for reading");
  return in;
}

}  // namespace

NpyArray read_npy(const std::filesystem::path& file, const std::string& what) {
  auto in = open_npy(file, what);
  NpyHeader h = read_header(in, file, what);
  NpyArray a = h.array;  // header fields only; h keeps them for messages
  a.data.resize(h.data_bytes);
  read_payload(in, reinterpret_cast<char*>(a.data.data()), h, file, what);
  if (h.fortran && a.shape.size() > 1) {
    // Column-major on disk: element (i0..ik) sits at sum_j i_j * prod_{l<j} n_l. Reorder to C order.
    std::vector<std::uint8_t> c(a.data.size());
    const std::size_t nd = a.shape.size();
    std::vector<std::int64_t> idx(nd, 0);
    const std::int64_t n = a.count();
    for (std::int64_t k = 0; k < n; ++k) {
      std::int64_t f = 0, stride = 1;
      for (std::size_t j = 0; j < nd; ++j) {
        f += idx[j] * stride;
        stride *= a.shape[j];
      }
      std::memcpy(c.data() + k * a.item_size, a.data.data() + f * a.item_size, static_cast<std::size_t>(a.item_size));
      for (std::size_t j = nd; j-- > 0;) {  // advance the C-order index (last axis fastest)
        if (++idx[j] < a.shape[j]) break;
        idx[j] = 0;
      }
    }
    a.data.swap(c);
  }
  return a;
}

cv::Mat read_npy_image(const std::filesystem::path& file, const std::string& what) {
  {
    auto in = open_npy(file, what);
    NpyHeader h = read_header(in, file, what);
    const auto& a = h.array;
    const bool image_like = ((a.shape.size() == 2) || (a.shape.size() == 3 && a.shape[2] >= 1 && a.shape[2] <= 4)) &&
                            a.shape[0] <= INT32_MAX && a.shape[1] <= INT32_MAX;
    if (a.kind == 'f' && a.item_size == 4 && !h.fortran && image_like && a.count() > 0) {
      // The common case (float32, C order): read the payload straight into the image.
      cv::Mat m(static_cast<int>(a.shape[0]), static_cast<int>(a.shape[1]),
                CV_32FC(a.shape.size() == 3 ? static_cast<int>(a.shape[2]) : 1));
      read_payload(in, reinterpret_cast<char*>(m.data), h, file, what);
      return m;
    }
  }
  return npy_to_image(read_npy(file, what), file, what);
}

cv::Mat npy_to_image(const NpyArray& a, const std::filesystem::path& file, const std::string& what) {
  const bool ok = ((a.shape.size() == 2) || (a.shape.size() == 3 && a.shape[2] >= 1 && a.shape[2] <= 4)) &&
                  a.shape[0] <= INT32_MAX && a.shape[1] <= INT32_MAX;  // cv::Mat sizes are int
  if (!ok || a.count() == 0) {
    std::string s = "(";
    for (std::size_t i = 0; i < a.shape.size(); ++i) s += (i ? ", " : "") + std::to_string(a.shape[i]);
    fail(file, what + ": expected an array of shape (H, W) or (H, W, C) with C <= 4, found shape " + s + ")");
  }
  const int h = static_cast<int>(a.shape[0]), w = static_cast<int>(a.shape[1]);
  const int c = a.shape.size() == 3 ? static_cast<int>(a.shape[2]) : 1;
  cv::Mat m(h, w, CV_32FC(c));
  if (a.kind == 'f' && a.item_size == 4) {
    std::memcpy(m.data, a.data.data(), a.data.size());
  } else {
    float* out = m.ptr<float>();
    const std::int64_t n = a.count();
    for (std::int64_t i = 0; i < n; ++i) out[i] = static_cast<float>(a.at(i));
  }
  return m;
}

void write_npy(const std::filesystem::path& file, const std::string& descr, const std::vector<std::int64_t>& shape,
               const void* data) {
  char kind = 'f';
  int size = 4;
  if (!parse_descr(descr, kind, size)) throw DataError("write_npy: unsupported dtype " + descr);
  std::string s = "(";
  std::int64_t n = 1;
  for (std::size_t i = 0; i < shape.size(); ++i) {
    s += std::to_string(shape[i]) + (shape.size() == 1 || i + 1 < shape.size() ? "," : "");
    if (i + 1 < shape.size()) s += " ";
    n *= shape[i];
  }
  s += ")";
  std::string header = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + s + ", }";
  // Pad with spaces so that magic + 2 + 2 + header + '\n' is a multiple of 64 bytes.
  const std::size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header.push_back('\n');
  std::ofstream out(file, std::ios::binary);
  if (!out) throw DataError("cannot write " + file.string());
  out.write("\x93NUMPY\x01\x00", 8);
  const std::uint16_t len = static_cast<std::uint16_t>(header.size());
  const char len_bytes[2] = {static_cast<char>(len & 0xFF), static_cast<char>(len >> 8)};
  out.write(len_bytes, 2);
  out.write(header.data(), static_cast<std::streamsize>(header.size()));
  out.write(static_cast<const char*>(data), static_cast<std::streamsize>(n * size));
  if (!out) throw DataError("write error on " + file.string());
}

}  // namespace s4t::data
