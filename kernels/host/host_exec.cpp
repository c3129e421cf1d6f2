// The host execution's threads, barriers, shared memory and cp.async queues (host_exec.h).
#include "host_exec.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace sr::host {

namespace {

// A barrier of `expected` threads whose participants may leave; the last arrival runs
// `on_release` (while every other participant still waits) and releases them. One atomic word
// holds (expected << 32 | arrived), so arrivals and leaves are ordered without a lock; the
// acquire/release pairs are what ThreadSanitizer sees, and waiters sleep on a futex (a condition
// variable's wake-all made 256 threads fight for its mutex at every __syncthreads).
class Barrier {
 public:
  void reset(int expected) { state_.store(uint64_t(expected) << 32, std::memory_order_relaxed); }
  void wait(const std::function<void()>& on_release = {}) {
    const uint32_t generation = generation_.load(std::memory_order_acquire);
    const uint64_t s = state_.fetch_add(1, std::memory_order_acq_rel) + 1;
    if (arrived(s) == expected(s)) {
      if (on_release) on_release();
      release(s);
      return;
    }
    while (generation_.load(std::memory_order_acquire) == generation)
      syscall(SYS_futex, &generation_, FUTEX_WAIT_PRIVATE, generation, nullptr, nullptr, 0);
  }
  void leave() {
    const uint64_t s =
        state_.fetch_sub(uint64_t{1} << 32, std::memory_order_acq_rel) - (uint64_t{1} << 32);
    if (arrived(s) > 0 && arrived(s) == expected(s)) release(s);
  }

 private:
  static uint32_t arrived(uint64_t s) { return static_cast<uint32_t>(s); }
  static uint32_t expected(uint64_t s) { return static_cast<uint32_t>(s >> 32); }
  void release(uint64_t s) {  // every participant has arrived: nobody else touches state_ now
    state_.store(uint64_t{expected(s)} << 32, std::memory_order_relaxed);
    generation_.fetch_add(1, std::memory_order_release);
    syscall(SYS_futex, &generation_, FUTEX_WAKE_PRIVATE, INT32_MAX, nullptr, nullptr, 0);
  }
  std::atomic<uint64_t> state_{0};
  std::atomic<uint32_t> generation_{0};
};

// Exchange slots come in two sets used alternately (by shuffles and warp_share alike): exchange
// k + 2 (same set as k) starts only after every lane has passed exchange k + 1's barrier, hence
// finished reading k: one barrier per exchange.
struct Warp {
  Barrier barrier;
  uint64_t slots[2][32] = {};
  uint32_t wide[2][32 * kShareWords] = {};
};

// The block being run: its barrier, its warps and its dynamic shared memory.
struct Block {
  int threads = 0;
  Barrier barrier;
  std::unique_ptr<Warp[]> warps;
  int n_warps = 0;
  unsigned char* shared = nullptr;
  size_t shared_bytes = 0;
  void reset() {
    barrier.reset(threads);
    for (int w = 0; w < n_warps; ++w)
      warps[w].barrier.reset(w + 1 < n_warps || threads % 32 == 0 ? 32 : threads % 32);
    if (shared) std::memset(shared, 0xFF, shared_bytes);  // NaN as float and as bf16
  }
};

thread_local Block* t_block = nullptr;
thread_local Warp* t_warp = nullptr;
thread_local int t_lane = 0;
thread_local int t_slot_set = 0;

struct PendingCopy {
  void* dst;
  const void* src;
  bool valid;
};
thread_local std::deque<std::vector<PendingCopy>> t_groups;  // committed, oldest first
thread_local std::vector<PendingCopy> t_open;                // issued, not committed yet

// Host threads reused across launches (ThreadSanitizer keeps a bounded number of thread slots).
class Pool {
 public:
  ~Pool() {
    {
      std::lock_guard<std::mutex> lock(m_);
      stop_ = true;
    }
    start_.notify_all();
    for (std::thread& t : threads_) t.join();
  }
  // Runs job(i) on n pooled threads, i = 0..n-1, and returns when all have finished.
  void run(int n, const std::function<void(int)>& job) {
    while (static_cast<int>(threads_.size()) < n) {
      const int index = static_cast<int>(threads_.size());
      threads_.emplace_back([this, index] { work(index); });
    }
    std::unique_lock<std::mutex> lock(m_);
    job_ = &job;
    job_threads_ = n;
    finished_ = 0;
    ++generation_;
    start_.notify_all();
    done_.wait(lock, [&] { return finished_ == job_threads_; });
    job_ = nullptr;
  }

 private:
  void work(int index) {
    uint64_t seen = 0;
    for (;;) {
      const std::function<void(int)>* job;
      {
        std::unique_lock<std::mutex> lock(m_);
        start_.wait(lock, [&] { return stop_ || (generation_ != seen && index < job_threads_); });
        if (stop_) return;
        seen = generation_;
        job = job_;
      }
      (*job)(index);
      std::lock_guard<std::mutex> lock(m_);
      if (++finished_ == job_threads_) done_.notify_all();
    }
  }
  std::vector<std::thread> threads_;
  std::mutex m_;
  std::condition_variable start_, done_;
  const std::function<void(int)>* job_ = nullptr;
  int job_threads_ = 0, finished_ = 0;
  uint64_t generation_ = 0;
  bool stop_ = false;
};

Pool& pool() {
  static Pool p;
  return p;
}

std::atomic<int> g_sm_count{kSmCount};
std::mutex g_state_mutex;  // the opt-in table and the last error
std::map<const void*, int> g_max_dynamic_shared;
int g_last_error = 0;

bool fail_launch(int error, const char* why) {
  std::fprintf(stderr, "host execution: launch refused: %s\n", why);
  std::lock_guard<std::mutex> lock(g_state_mutex);
  g_last_error = error;
  return false;
}

}  // namespace

int sm_count() {
  return g_sm_count.load();
}

void set_sm_count(int n) {
  g_sm_count.store(n);
}

void sync_block() {
  t_block->barrier.wait();
}

void sync_warp() {
  t_warp->barrier.wait();
}

unsigned char* dynamic_shared() {
  return t_block->shared;
}

size_t dynamic_shared_bytes() {
  return t_block->shared_bytes;
}

uint64_t warp_exchange(uint64_t v, int src) {
  uint64_t* slots = t_warp->slots[t_slot_set];
  t_slot_set ^= 1;
  slots[t_lane] = v;
  t_warp->barrier.wait();
  return slots[src];
}

const uint32_t* warp_share(const uint32_t* words, int n) {
  if (n > kShareWords) std::abort();
  uint32_t* table = t_warp->wide[t_slot_set];
  t_slot_set ^= 1;
  std::memcpy(table + t_lane * kShareWords, words, n * sizeof(uint32_t));
  t_warp->barrier.wait();
  return table;
}

void set_max_dynamic_shared(const void* kernel, int bytes) {
  std::lock_guard<std::mutex> lock(g_state_mutex);
  g_max_dynamic_shared[kernel] = bytes;
}

int take_last_error() {
  std::lock_guard<std::mutex> lock(g_state_mutex);
  const int e = g_last_error;
  g_last_error = 0;
  return e;
}

namespace {

// Block i of the grid, x fastest.
uint3 block_index(uint64_t i, dim3 grid) {
  return {static_cast<unsigned>(i % grid.x), static_cast<unsigned>(i / grid.x % grid.y),
          static_cast<unsigned>(i / (uint64_t{grid.x} * grid.y))};
}

// What every CUDA thread of `b` sets up before running a block.
void enter_block(Block& b, int tid, dim3 grid, dim3 block, uint3 index) {
  blockDim = block;
  gridDim = grid;
  blockIdx = index;
  threadIdx = {tid % block.x, (tid / block.x) % block.y, tid / (block.x * block.y)};
  t_block = &b;
  t_warp = &b.warps[tid / 32];
  t_lane = tid % 32;
  t_slot_set = 0;
  t_groups.clear();
  t_open.clear();
}

void leave_block() {  // a returned thread no longer counts at the block's barriers
  t_block->barrier.leave();
  t_warp->barrier.leave();
}

// A block's state with exactly `smem` bytes of dynamic shared memory (AddressSanitizer sees a read
// past the end), 128-byte aligned.
std::unique_ptr<Block> make_block(int threads, size_t smem) {
  auto b = std::make_unique<Block>();
  b->threads = threads;
  b->n_warps = (threads + 31) / 32;
  b->warps = std::make_unique<Warp[]>(b->n_warps);
  void* shared = nullptr;
  if (smem > 0 && posix_memalign(&shared, 128, smem) != 0) std::abort();
  b->shared = static_cast<unsigned char*>(shared);
  b->shared_bytes = smem;
  b->reset();
  return b;
}

thread_local Barrier* t_grid = nullptr;  // the grid's barrier in a cooperative launch

}  // namespace

void sync_grid() {
  if (!t_grid) {
    std::fprintf(stderr, "host execution: grid.sync() outside a cooperative launch\n");
    std::abort();
  }
  t_grid->wait();
}

bool launch(const void* kernel, dim3 grid, dim3 block, size_t smem,
            const std::function<void()>& body, bool cooperative) {
  const uint64_t threads = uint64_t{block.x} * block.y * block.z;
  const uint64_t blocks = uint64_t{grid.x} * grid.y * grid.z;
  if (threads == 0 || threads > 1024 || block.z > 64)
    return fail_launch(kErrorInvalidConfiguration, "block size");
  if (blocks == 0 || grid.y > 65535 || grid.z > 65535)
    return fail_launch(kErrorInvalidConfiguration, "grid size");
  // Cooperative: every block resident at once (at most 2048 threads per SM), and a host thread
  // each.
  if (cooperative && blocks * threads > std::min<uint64_t>(2048u * sm_count(), kMaxHostThreads))
    return fail_launch(kErrorCooperativeLaunchTooLarge, "a cooperative grid too large");
  {
    std::lock_guard<std::mutex> lock(g_state_mutex);
    const auto it = g_max_dynamic_shared.find(kernel);
    const size_t allowed = it != g_max_dynamic_shared.end() ? it->second : kSharedDefault;
    if (smem > allowed || smem > static_cast<size_t>(kSharedOptin)) {
      g_last_error = kErrorInvalidValue;
      std::fprintf(stderr, "host execution: launch refused: %zu bytes of shared memory\n", smem);
      return false;
    }
  }
  static std::mutex one_launch_at_a_time;
  std::lock_guard<std::mutex> launch_lock(one_launch_at_a_time);
  const int n = static_cast<int>(threads);

  if (cooperative) {  // all blocks at once, each with its own barriers and shared memory
    std::vector<std::unique_ptr<Block>> all;
    for (uint64_t i = 0; i < blocks; ++i) all.push_back(make_block(n, smem));
    Barrier grid_barrier;
    grid_barrier.reset(static_cast<int>(blocks * threads));
    pool().run(static_cast<int>(blocks * threads), [&](int i) {
      enter_block(*all[i / n], i % n, grid, block, block_index(i / n, grid));
      t_grid = &grid_barrier;
      body();
      leave_block();
      grid_barrier.leave();
      t_grid = nullptr;
    });
    for (auto& b : all) std::free(b->shared);
    return true;
  }

  // One block at a time on the same n threads; the block's last thread readies the next one.
  const std::unique_ptr<Block> b = make_block(n, smem);
  Barrier block_end;
  block_end.reset(n);
  pool().run(n, [&](int tid) {
    for (uint64_t i = 0; i < blocks; ++i) {
      enter_block(*b, tid, grid, block, block_index(i, grid));
      body();
      leave_block();
      block_end.wait([&] { b->reset(); });
    }
  });
  std::free(b->shared);
  return true;
}

void cp_async16(void* smem, const void* gmem, bool valid) {
  std::memset(smem, 0xFF, 16);  // NaN until the copy lands
  t_open.push_back({smem, gmem, valid});
}

void cp_async_commit() {
  t_groups.push_back(std::move(t_open));
  t_open.clear();
}

void cp_async_wait(int newest_pending_allowed) {
  while (static_cast<int>(t_groups.size()) > newest_pending_allowed) {
    for (const PendingCopy& c : t_groups.front()) {
      if (c.valid)
        std::memcpy(c.dst, c.src, 16);
      else
        std::memset(c.dst, 0, 16);  // src-size 0: zero fill, nothing read
    }
    t_groups.pop_front();
  }
}

}  // namespace sr::host
