#include "s4t/collectives.hpp"

#include <atomic>
#include <mutex>
#include <utility>

namespace s4t {

Collectives::~Collectives() = default;

namespace {
// Set once per run by the host, read from every layer's forward (possibly on several threads in tests):
// a mutex for the pointer, an atomic for the flag.
std::mutex& collectives_mutex() {
  static std::mutex m;
  return m;
}
std::shared_ptr<Collectives>& installed() {
  static std::shared_ptr<Collectives> c;
  return c;
}
std::atomic<bool> sync_bn{false};
}  // namespace

std::shared_ptr<Collectives> collectives() {
  std::lock_guard<std::mutex> lock(collectives_mutex());
  return installed();
}

void set_collectives(std::shared_ptr<Collectives> c) {
  std::lock_guard<std::mutex> lock(collectives_mutex());
  installed() = std::move(c);
}

bool sync_batch_norm_enabled() { return sync_bn.load(std::memory_order_relaxed); }
void set_sync_batch_norm(bool on) { sync_bn.store(on, std::memory_order_relaxed); }

}  // namespace s4t
