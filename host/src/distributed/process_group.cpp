#include "distributed/process_group.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include <spdlog/sinks/sink.h>

#include "config/experiment.hpp"
#include "run/logging.hpp"
#include "s4t/error.hpp"

// host/CMakeLists.txt defines S4T_HAVE_DISTRIBUTED (and S4T_HAVE_NCCL) for this file when the headers exist.
#ifndef S4T_HAVE_DISTRIBUTED
#define S4T_HAVE_DISTRIBUTED 0
#endif
#ifndef S4T_HAVE_NCCL
#define S4T_HAVE_NCCL 0
#endif

#if S4T_HAVE_DISTRIBUTED
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/version.h>
#if S4T_HAVE_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif
#endif

namespace s4t::host {

bool distributed_support_compiled() { return S4T_HAVE_DISTRIBUTED != 0; }

std::string no_distributed_support_message() {
  return "this build of s4t has no distributed support: LibTorch's c10d headers or the Gloo headers were not found "
         "when it was configured (Debian: apt-get install libgloo-dev, then configure and build again; see "
         "docs/distributed.md)";
}

namespace {
std::string rank_list(const std::vector<int>& ranks) {
  std::string text = ranks.size() == 1 ? "rank " : "ranks ";
  for (size_t i = 0; i < ranks.size(); ++i) text += (i ? ", " : "") + std::to_string(ranks[i]);
  return text;
}
}  // namespace

#if S4T_HAVE_DISTRIBUTED

namespace {
#if TORCH_VERSION_MAJOR >= 2
using BackendBase = c10d::Backend;  // 2.x: ProcessGroupGloo/NCCL are backends of a ProcessGroup
#else
using BackendBase = c10d::ProcessGroup;
#endif

constexpr auto kHeartbeatPeriod = std::chrono::milliseconds(500);
// A rank whose heartbeat has not moved for this long is taken for dead (4 missed beats).
constexpr auto kDeadAfter = std::chrono::milliseconds(2000);

std::string beat_key(int r) { return "s4t/beat/" + std::to_string(r); }
std::string iteration_key(int r) { return "s4t/iteration/" + std::to_string(r); }
std::string failed_key(int r) { return "s4t/failed/" + std::to_string(r); }
std::string joined_key(int r) { return "s4t/joined/" + std::to_string(r); }

bool is_loopback(const std::string& host) {
  return host == "localhost" || host.rfind("127.", 0) == 0 || host == "::1";
}
}  // namespace

struct DistributedGroup::Impl {
  LaunchEnvironment env;
  GroupSettings settings;
  c10::intrusive_ptr<c10d::TCPStore> store;  // rank 0 serves it
  c10::intrusive_ptr<BackendBase> backend;
  std::atomic<std::int64_t> iteration{0};

  std::mutex beat_mutex;
  std::condition_variable beat_cv;
  bool stop_beating = false;
  std::thread heartbeat;

  std::string where() const { return env.master_addr + ":" + std::to_string(env.master_port); }

  // Also runs when the constructor throws after the heartbeat started.
  ~Impl() {
    {
      std::lock_guard<std::mutex> lock(beat_mutex);
      stop_beating = true;
    }
    beat_cv.notify_all();
    if (heartbeat.joinable()) heartbeat.join();
    backend.reset();
    store.reset();
  }

  c10::intrusive_ptr<c10d::TCPStore> connect_store(bool server, std::chrono::milliseconds timeout) {
    c10d::TCPStoreOptions o;
    o.port = static_cast<std::uint16_t>(env.master_port);
    o.isServer = server;
    o.numWorkers = env.world_size;
    o.waitWorkers = false;  // joining is checked below, naming the ranks that are missing
    o.timeout = timeout;
    return c10::make_intrusive<c10d::TCPStore>(env.master_addr, o);
  }

  // Each beat: +1 on this rank's counter, and its iteration (a counter too, so readers never block).
  void beat_loop() {
    c10::intrusive_ptr<c10d::TCPStore> client;
    std::int64_t published = 0;
    try {
      client = connect_store(false, std::chrono::milliseconds(5000));
      std::unique_lock<std::mutex> lock(beat_mutex);
      while (!stop_beating) {
        lock.unlock();
        client->add(beat_key(env.rank), 1);
        const std::int64_t now = iteration.load();
        if (now != published) client->add(iteration_key(env.rank), now - published);
        published = now;
        lock.lock();
        beat_cv.wait_for(lock, kHeartbeatPeriod, [&] { return stop_beating; });
      }
    } catch (const std::exception&) {
      // The store is gone (rank 0 exited): nothing left to tell; whoever needs the store reports it.
    }
  }

  std::vector<std::int64_t> read(std::string (*key)(int)) {
    std::vector<std::int64_t> v(env.world_size);
    for (int r = 0; r < env.world_size; ++r) v[r] = store->add(key(r), 0);
    return v;
  }
  std::vector<std::pair<int, std::string>> failures() {
    std::vector<std::pair<int, std::string>> out;
    for (int r = 0; r < env.world_size; ++r)
      if (r != env.rank && store->check({failed_key(r)})) {
        auto bytes = store->get(failed_key(r));
        out.emplace_back(r, std::string(bytes.begin(), bytes.end()));
      }
    return out;
  }
};

DistributedGroup::DistributedGroup(const LaunchEnvironment& env, const GroupSettings& settings)
    : impl_(std::make_unique<Impl>()) {
  auto& s = *impl_;
  s.env = env;
  s.settings = settings;
  const auto timeout = std::chrono::duration_cast<std::chrono::milliseconds>(settings.timeout);
  const std::string seconds = std::to_string(settings.timeout.count()) + " s ([run] dist_timeout_s)";
  if (settings.backend != "gloo" && settings.backend != "nccl")
    throw ConfigError("[run] backend = \"" + settings.backend + "\" is not a backend; expected gloo or nccl");
  try {
    s.store = s.connect_store(env.rank == 0, timeout);
  } catch (const std::exception& e) {
    if (env.rank == 0)
      throw Error("rank 0 could not open the rendezvous store on port " + std::to_string(env.master_port) + " (" +
                  e.what() + "); is the port in use? Choose another MASTER_PORT");
    throw Error("rank " + std::to_string(env.rank) + " could not reach the rendezvous store of rank 0 at " + s.where() +
                " within " + seconds + ": " + e.what() +
                "; is rank 0 running, and do all ranks have the same MASTER_ADDR and MASTER_PORT?");
  }
  // Join: every rank checks in, then waits for the others (naming the missing ones when the time is up).
  if (s.store->add(joined_key(env.rank), 1) > 1)
    throw ConfigError("two processes were started as rank " + std::to_string(env.rank) + " of " + s.where() +
                      "; every process needs its own RANK");
  const auto deadline = std::chrono::steady_clock::now() + settings.timeout;
  for (;;) {
    std::vector<int> missing;
    for (int r = 0; r < env.world_size; ++r)
      if (!s.store->check({joined_key(r)})) missing.push_back(r);
    if (missing.empty()) break;
    if (std::chrono::steady_clock::now() >= deadline)
      throw Error(rank_list(missing) + " did not join the run at " + s.where() +
                  " within " + seconds + " (world size " + std::to_string(env.world_size) +
                  "); check that every rank was started with the same MASTER_ADDR, MASTER_PORT and WORLD_SIZE");
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  s.heartbeat = std::thread([self = impl_.get()] { self->beat_loop(); });

  // Collectives time out a little before dist_timeout_s, so the diagnosis fits in it.
  const auto op_timeout = std::max(std::chrono::milliseconds(1000), timeout - std::chrono::milliseconds(2500));
  auto prefix = c10::make_intrusive<c10d::PrefixStore>("backend", s.store);
  try {
    if (settings.backend == "gloo") {
      auto o = c10d::ProcessGroupGloo::Options::create(op_timeout);
      if (const char* ifname = std::getenv("GLOO_SOCKET_IFNAME"); ifname && *ifname)
        o->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(ifname));
      else if (is_loopback(env.master_addr))
        o->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
      else
        o->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
      s.backend = c10::make_intrusive<c10d::ProcessGroupGloo>(prefix, env.rank, env.world_size, o);
    } else {
#if S4T_HAVE_NCCL
      auto o = c10d::ProcessGroupNCCL::Options::create();
      o->timeout = op_timeout;
      s.backend = c10::make_intrusive<c10d::ProcessGroupNCCL>(prefix, env.rank, env.world_size, o);
#else
      throw ConfigError("[run] backend = \"nccl\" but this build of s4t has no NCCL support (LibTorch without CUDA/NCCL "
                        "headers when it was configured); use [run] backend = \"gloo\"");
#endif
    }
  } catch (const s4t::Error&) {
    throw;
  } catch (const std::exception& e) {
    throw CollectiveError(diagnose_failure("creating the " + settings.backend + " backend", e.what()));
  }
  // From now on the store only serves diagnoses: they must not wait long for a rank 0 that hangs.
  s.store->setTimeout(std::min(timeout, std::chrono::milliseconds(5000)));
}

DistributedGroup::~DistributedGroup() = default;

int DistributedGroup::rank() const { return impl_->env.rank; }
int DistributedGroup::world_size() const { return impl_->env.world_size; }
const LaunchEnvironment& DistributedGroup::environment() const { return impl_->env; }
void DistributedGroup::set_progress(std::int64_t iteration) { impl_->iteration.store(iteration); }

void DistributedGroup::announce_failure(const std::string& message) noexcept {
  try {
    const std::string text = message.substr(0, 2000);
    impl_->store->set(failed_key(impl_->env.rank), std::vector<std::uint8_t>(text.begin(), text.end()));
  } catch (...) {
  }
}

std::string DistributedGroup::diagnose_failure(const std::string& what, const std::string& backend_error) {
  auto& s = *impl_;
  const std::string me = "rank " + std::to_string(s.env.rank);
  const std::string detail = " (" + me + ", " + what + ": " + backend_error + ")";
  try {
    auto first = s.read(beat_key);
    auto failed = s.failures();
    // A rank that failed may publish its message a moment after its sockets closed.
    const auto until = std::chrono::steady_clock::now() + kDeadAfter;
    while (failed.empty() && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      failed = s.failures();
    }
    if (!failed.empty()) {
      std::string text;
      for (auto& [r, message] : failed) text += (text.empty() ? "" : "; ") + ("rank " + std::to_string(r) + " stopped with an error: " + message);
      return text + detail;
    }
    auto second = s.read(beat_key);
    std::vector<int> dead;
    for (int r = 0; r < s.env.world_size; ++r)
      if (r != s.env.rank && second[r] == first[r]) dead.push_back(r);
    if (!dead.empty())
      return rank_list(dead) + " stopped responding: no heartbeat for " +
             std::to_string(std::chrono::duration_cast<std::chrono::seconds>(kDeadAfter).count()) +
             " s (the process exited, was killed or is frozen)" + detail;
    auto iterations = s.read(iteration_key);
    const std::int64_t mine = s.iteration.load();
    std::vector<int> behind;
    for (int r = 0; r < s.env.world_size; ++r)
      if (r != s.env.rank && iterations[r] < mine) behind.push_back(r);
    if (!behind.empty())
      return rank_list(behind) + " did not reach " + what + " within " + std::to_string(s.settings.timeout.count()) +
             " s ([run] dist_timeout_s): it is alive but stuck at iteration " + std::to_string(iterations[behind.front()]) +
             " while " + me + " is at " + std::to_string(mine) + detail;
  } catch (const std::exception&) {
    if (s.env.rank != 0)
      return "rank 0 (which serves the rendezvous store at " + s.where() + ") is gone: it exited or was killed" + detail;
  }
  return what + " failed on " + me + ": " + backend_error;
}

namespace {
class PendingWork final : public PendingCollective {
 public:
  PendingWork(DistributedGroup& group, c10::intrusive_ptr<c10d::Work> work, std::string what)
      : group_(group), work_(std::move(work)), what_(std::move(what)) {}
  void wait() override {
    if (!work_) return;
    try {
      work_->wait();
    } catch (const std::exception& e) {
      work_.reset();
      throw CollectiveError(group_.diagnose_failure(what_, e.what()));
    }
    work_.reset();
  }

 private:
  DistributedGroup& group_;
  c10::intrusive_ptr<c10d::Work> work_;
  std::string what_;
};
}  // namespace

std::unique_ptr<PendingCollective> DistributedGroup::all_reduce_sum_async(const at::Tensor& tensor, const std::string& what) {
  if (!tensor.is_contiguous()) throw Error("internal: " + what + ": all_reduce_sum_async needs a contiguous tensor");
  std::vector<at::Tensor> one{tensor};
  c10d::AllreduceOptions o;
  o.reduceOp = c10d::ReduceOp::SUM;
  try {
    return std::make_unique<PendingWork>(*this, impl_->backend->allreduce(one, o), what);
  } catch (const std::exception& e) {
    throw CollectiveError(diagnose_failure(what, e.what()));
  }
}

void DistributedGroup::all_reduce_sum(std::vector<at::Tensor>& tensors) {
  for (auto& t : tensors) {
    at::Tensor flat = t.is_contiguous() ? t : t.contiguous();
    all_reduce_sum_async(flat, "an all-reduce of " + std::to_string(t.numel()) + " values")->wait();
    if (!flat.is_same(t)) t.copy_(flat);
  }
}

void DistributedGroup::broadcast(std::vector<at::Tensor>& tensors, int root) {
  c10d::BroadcastOptions o;
  o.rootRank = root;
  for (auto& t : tensors) {
    at::Tensor flat = t.is_contiguous() ? t : t.contiguous();
    std::vector<at::Tensor> one{flat};
    const std::string what = "a broadcast from rank " + std::to_string(root);
    try {
      impl_->backend->broadcast(one, o)->wait();
    } catch (const std::exception& e) {
      throw CollectiveError(diagnose_failure(what, e.what()));
    }
    if (!flat.is_same(t)) t.copy_(flat);
  }
}

void DistributedGroup::barrier(const std::string& what) {
  try {
    impl_->backend->barrier()->wait();
  } catch (const std::exception& e) {
    throw CollectiveError(diagnose_failure(what, e.what()));
  }
}

#else  // no distributed support in this build

struct DistributedGroup::Impl {};
DistributedGroup::DistributedGroup(const LaunchEnvironment&, const GroupSettings&) {
  throw Error(no_distributed_support_message());
}
DistributedGroup::~DistributedGroup() = default;
int DistributedGroup::rank() const { return 0; }
int DistributedGroup::world_size() const { return 1; }
const LaunchEnvironment& DistributedGroup::environment() const { return launch_environment(); }
void DistributedGroup::all_reduce_sum(std::vector<at::Tensor>&) { throw Error(no_distributed_support_message()); }
std::unique_ptr<PendingCollective> DistributedGroup::all_reduce_sum_async(const at::Tensor&, const std::string&) {
  throw Error(no_distributed_support_message());
}
void DistributedGroup::broadcast(std::vector<at::Tensor>&, int) { throw Error(no_distributed_support_message()); }
void DistributedGroup::barrier(const std::string&) { throw Error(no_distributed_support_message()); }
void DistributedGroup::set_progress(std::int64_t) {}
void DistributedGroup::announce_failure(const std::string&) noexcept {}
std::string DistributedGroup::diagnose_failure(const std::string& what, const std::string& error) { return what + ": " + error; }

#endif

namespace {
std::mutex& group_mutex() {
  static std::mutex m;
  return m;
}
std::shared_ptr<DistributedGroup>& the_group() {
  static std::shared_ptr<DistributedGroup> g;
  return g;
}
}  // namespace

std::shared_ptr<DistributedGroup> distributed_group() {
  std::lock_guard<std::mutex> lock(group_mutex());
  return the_group();
}

std::shared_ptr<DistributedGroup> join_distributed_run(const Experiment& x) {
  const LaunchEnvironment& env = launch_environment();
  if (!env.distributed()) return nullptr;
  std::lock_guard<std::mutex> lock(group_mutex());
  if (the_group()) return the_group();
  if (!distributed_support_compiled()) throw Error(no_distributed_support_message());
  auto& run = x.section("run");
  GroupSettings settings;
  settings.backend = run.get_string("backend");
  settings.timeout = std::chrono::seconds(run.get_int("dist_timeout_s"));
  const std::string device = run.get_string("device");
  if (settings.backend == "nccl" && device.rfind("cuda", 0) != 0)
    throw ConfigError("[run] backend = \"nccl\" needs [run] device = \"cuda\" (it is \"" + device +
                      "\"); use backend = \"gloo\" on CPUs");
  logger()->info("joining the distributed run as {} ({} backend)", env.describe(), settings.backend);
  the_group() = std::make_shared<DistributedGroup>(env, settings);
  s4t::set_collectives(the_group());
  // Every rank prints to the terminal: tag the lines, and leave the info lines to rank 0.
  if (!logger()->sinks().empty())
    logger()->sinks().front()->set_pattern("[%H:%M:%S.%e] [rank " + std::to_string(env.rank) + "] [%^%l%$] %v");
  if (env.rank != 0 && logger()->level() < spdlog::level::warn) logger()->set_level(spdlog::level::warn);
  install_sdk_log_sink();
  return the_group();
}

}  // namespace s4t::host
