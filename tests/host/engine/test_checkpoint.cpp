// Checkpoints: round trip of weights, buffers and optimizer state; atomic writes; clear errors.
#include <ATen/ATen.h>
#include "s4t_testkit/doctest.hpp"
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/linear.h>
#include <torch/optim/adam.h>

#include <fstream>
#include <map>

#include "engine/checkpoint.hpp"
#include "s4t/error.hpp"
#include "s4t/state_dict.hpp"
#include "test_support.hpp"
#include "../../../fuzz/fuzz_checkpoint_model.hpp"  // the model the corpus was written for

using namespace s4t;
using namespace s4t::host;

namespace {
struct NetImpl : torch::nn::Module {
  NetImpl() {
    fc = register_module("fc", torch::nn::Linear(4, 3));
    bn = register_module("bn", torch::nn::BatchNorm1d(3));
  }
  at::Tensor forward(const at::Tensor& x) { return bn->forward(fc->forward(x)); }
  torch::nn::Linear fc{nullptr};
  torch::nn::BatchNorm1d bn{nullptr};
};
TORCH_MODULE(Net);
}  // namespace

TEST_CASE("checkpoint round trip restores parameters, buffers, optimizer state and meta") {
  test::TempDir dir;
  Net a;
  torch::optim::Adam opt(a->parameters(), torch::optim::AdamOptions(0.1));
  for (int i = 0; i < 3; ++i) {
    opt.zero_grad();
    a->forward(at::randn({8, 4})).pow(2).sum().backward();
    opt.step();
  }
  auto path = dir.path() / "ckpt.pt";
  save_checkpoint(path, *a, &opt, {{{"iteration", 3}}});
  CHECK(std::filesystem::exists(path));
  for (auto& e : std::filesystem::directory_iterator(dir.path())) CHECK(e.path().filename() == "ckpt.pt");  // no temp left

  Net b;
  torch::optim::Adam opt_b(b->parameters(), torch::optim::AdamOptions(0.1));
  auto meta = load_checkpoint(path, *b, &opt_b);
  CHECK(meta.values.at("iteration") == 3);
  CHECK(at::equal(a->fc->weight, b->fc->weight));
  CHECK(at::equal(a->bn->running_mean, b->bn->running_mean));
  // one more identical step gives identical weights: the Adam moments were restored
  auto x = at::randn({8, 4});
  opt.zero_grad();
  a->forward(x).pow(2).sum().backward();
  opt.step();
  opt_b.zero_grad();
  b->forward(x).pow(2).sum().backward();
  opt_b.step();
  CHECK(at::allclose(a->fc->weight, b->fc->weight));
}

TEST_CASE("checkpoints are readable as plain state dicts and mismatches are named") {
  test::TempDir dir;
  Net a;
  save_checkpoint(dir.path() / "c.pt", *a, nullptr, {});
  auto state = read_state_dict(dir.path() / "c.pt");
  CHECK(state.count("model.fc.weight") == 1);
  CHECK(state.count("model.bn.running_var") == 1);
  struct OtherImpl : torch::nn::Module {
    OtherImpl() { register_module("fc", torch::nn::Linear(5, 3)); }
  };
  auto other = std::make_shared<OtherImpl>();
  CHECK_THROWS_WITH(load_checkpoint(dir.path() / "c.pt", *other, nullptr), doctest::Contains("fc.weight"));
  CHECK_THROWS_WITH(load_checkpoint(dir.path() / "missing.pt", *other, nullptr), doctest::Contains("does not exist"));
  std::ofstream(dir.path() / "garbage.pt") << "not a zip";
  CHECK_THROWS_AS(read_state_dict(dir.path() / "garbage.pt"), DataError);
}

namespace {
std::string file_bytes(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}
std::uint32_t le32(const std::string& b, std::size_t at) {
  std::uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(b[at + static_cast<std::size_t>(i)]);
  return v;
}
std::uint32_t crc32_of(const char* p, std::size_t n) {  // zip's CRC-32, bit by bit
  std::uint32_t crc = 0xFFFFFFFFu;
  for (std::size_t i = 0; i < n; ++i) {
    crc ^= static_cast<unsigned char>(p[i]);
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}
void put_le32(std::string& b, std::size_t at, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) b[at + static_cast<std::size_t>(i)] = static_cast<char>(v >> (8 * i));
}
// The stored entry `suffix` (e.g. "/data.pkl") of the zip `b`: where its bytes start and how many there are.
std::pair<std::size_t, std::size_t> entry_of(const std::string& b, const std::string& suffix) {
  for (std::size_t at = 0; (at = b.find("PK\x01\x02", at)) != std::string::npos; ++at) {
    const std::size_t name_len = le32(b, at + 28) & 0xFFFF;
    const std::string name = b.substr(at + 46, name_len);
    if (name.size() < suffix.size() || name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0) continue;
    const std::size_t local = le32(b, at + 42);
    const std::size_t data = local + 30 + (le32(b, local + 26) & 0xFFFF) + (le32(b, local + 28) & 0xFFFF);
    return {data, le32(b, at + 24)};
  }
  FAIL("no entry " << suffix);
  return {0, 0};
}
// Raises the element count of the first storage `pickle_suffix` declares by one (the BININT1 before its
// first TUPLE BINPERSID) and rewrites that entry's CRC-32s, so only the storage check can refuse it.
std::string claim_one_more_element(std::string zip, const std::string& pickle_suffix) {
  auto [data, size] = entry_of(zip, pickle_suffix);
  const std::size_t persid = zip.find("tQ", data);
  REQUIRE(persid < data + size);
  REQUIRE(zip[persid - 2] == 'K');
  zip[persid - 1] = static_cast<char>(zip[persid - 1] + 1);
  const auto crc = crc32_of(zip.data() + data, size);
  for (std::size_t at = 0; (at = zip.find("PK\x01\x02", at)) != std::string::npos; ++at)
    if (le32(zip, at + 42) + 30 + (le32(zip, le32(zip, at + 42) + 26) & 0xFFFF) + (le32(zip, le32(zip, at + 42) + 28) & 0xFFFF) == data) {
      put_le32(zip, at + 16, crc);
      put_le32(zip, le32(zip, at + 42) + 14, crc);
    }
  return zip;
}
}  // namespace

// LibTorch 1.13's unpickler gives a storage the size its pickle claims, over the record's real buffer: a
// claim past the record must be refused before LibTorch reads it (a heap overflow found by fuzz/).
TEST_CASE("a storage claiming more elements than its record holds is refused, in the checkpoint and in its optimizer state") {
  test::TempDir dir;
  write_state_dict(dir.path() / "ok.pt", {{"w", at::arange(16, at::kByte)}});
  CHECK(read_state_dict(dir.path() / "ok.pt").at("w").numel() == 16);
  std::ofstream(dir.path() / "bad.pt", std::ios::binary) << claim_one_more_element(file_bytes(dir.path() / "ok.pt"), "/data.pkl");
  CHECK_THROWS_WITH_AS(read_state_dict(dir.path() / "bad.pt"),
                       doctest::Contains("declares storage '0' of 17 elements of 1 bytes, more than its record's 16 bytes"),
                       DataError);

  // The optimizer state is an archive of its own inside the checkpoint, read by torch::jit::load.
  Net a;
  torch::optim::Adam opt(a->parameters(), torch::optim::AdamOptions(0.1));
  opt.zero_grad();
  a->forward(at::randn({8, 4})).pow(2).sum().backward();
  opt.step();
  save_checkpoint(dir.path() / "ckpt.pt", *a, &opt, {{{"iteration", 1}}});
  auto state = read_state_dict(dir.path() / "ckpt.pt");
  const auto& optimizer = state.at("optimizer");
  const std::string inner(static_cast<const char*>(optimizer.data_ptr()), static_cast<std::size_t>(optimizer.numel()));
  CHECK(torch_archive_problem(std::vector<char>(inner.begin(), inner.end())).empty());
  const std::string bad = claim_one_more_element(inner, "/data.pkl");
  state["optimizer"] = at::from_blob(const_cast<char*>(bad.data()), {static_cast<std::int64_t>(bad.size())}, at::kByte).clone();
  write_state_dict(dir.path() / "bad_optimizer.pt", state);
  Net b;
  torch::optim::Adam opt_b(b->parameters(), torch::optim::AdamOptions(0.1));
  CHECK_THROWS_WITH_AS(load_checkpoint(dir.path() / "bad_optimizer.pt", *b, &opt_b),
                       doctest::Contains("its optimizer state is corrupt: entry 'archive/data.pkl' declares storage"), Error);
}

// LibTorch allocates the uncompressed size a zip entry claims before inflating it.
TEST_CASE("a compressed zip entry claiming more than deflate can give is refused before LibTorch allocates it") {
  test::TempDir dir;
  write_state_dict(dir.path() / "ok.pt", {{"w", at::arange(16, at::kByte)}});
  std::string zip = file_bytes(dir.path() / "ok.pt");
  std::size_t entry = std::string::npos;  // the directory entry of the tensor's record
  for (std::size_t at = 0; (at = zip.find("PK\x01\x02", at)) != std::string::npos; ++at) {
    const std::string name = zip.substr(at + 46, le32(zip, at + 28) & 0xFFFF);
    if (name.size() >= 7 && name.compare(name.size() - 7, 7, "/data/0") == 0) entry = at;
  }
  REQUIRE(entry != std::string::npos);
  zip[entry + 10] = 8;                    // deflated
  put_le32(zip, entry + 24, 0x7FFFFFFFu);  // 2 GB uncompressed from 16 bytes
  std::ofstream(dir.path() / "bomb.pt", std::ios::binary) << zip;
  CHECK_THROWS_WITH_AS(read_state_dict(dir.path() / "bomb.pt"),
                       doctest::Contains("claims 2147483647 bytes from 16 compressed, more than deflate gives"), DataError);
}

// Each regression_* input of the fuzz corpus once broke the reader (docs/fuzzing.md); the seeds load.
TEST_CASE("the fuzz corpus's checkpoints: the seeds load, each regression is refused with an s4t::Error") {
  const auto corpus = test::source_dir() / "fuzz" / "corpus" / "checkpoint";
  auto model = s4t::fuzz::make_checkpoint_model();
  torch::optim::Adam opt(model->parameters(), torch::optim::AdamOptions(1e-3));
  CHECK(load_checkpoint(corpus / "checkpoint.pt", *model, &opt, "method.").values.count("iteration") == 1);
  const std::vector<std::pair<const char*, const char*>> expected{
      {"regression_storage_past_record.pt",
       "entry 'archive/data.pkl' declares storage '7' of 20000 elements of 1 bytes, more than its record's 10242 bytes"},
      {"regression_tensor_past_storage.pt", "tensor 'optimizer' declares more elements than its storage holds"},
      {"regression_pickle_string_1_5gb.pt", "holds a pickled string of 1515847701 bytes"},
      {"regression_memo_index_26gb.pt", "holds a pickle memo index past its size"},
      {"regression_optimizer_pickle_2gb.pt", "its optimizer state is corrupt"},
      {"regression_no_zip_directory_overflow.pt", "is not a torch.save file"},
  };
  for (const auto& entry : expected) {
    const std::string file = entry.first;
    CAPTURE(file);
    REQUIRE(std::filesystem::exists(corpus / file));
    CHECK_THROWS_WITH_AS(load_checkpoint(corpus / file, *model, &opt, "method."), doctest::Contains(entry.second), Error);
  }
}
