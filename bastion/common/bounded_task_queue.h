// cpp-httplib's connection queue, bounded: a fixed pool of worker threads
// and at most `max_connections` accepted connections at once (running or
// waiting). At the bound the accept thread waits for a slot, so further
// connections wait in the kernel's listen backlog instead of holding
// descriptors bastiond's SSH side needs. With `evict_when_full` the guard
// first closes the connection that has waited longest for its request, so
// clients that never finish a request cannot hold every slot.
#pragma once
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include <httplib.h>

#include "common/connection_guard.h"

namespace bastion {

class BoundedTaskQueue;

// Where the server finds the queue httplib made (and deletes) on its
// listening thread, to release it at stop; cleared by the queue's destructor.
struct TaskQueueSlot {
  std::mutex mu;
  BoundedTaskQueue* queue = nullptr;
  void release();
};

class BoundedTaskQueue : public httplib::TaskQueue {
 public:
  // `guard`: told when a worker starts and ends a connection (may be null).
  BoundedTaskQueue(std::size_t threads, std::size_t max_connections, TaskQueueSlot& slot,
                   ConnectionGuard* guard = nullptr, bool evict_when_full = false);
  ~BoundedTaskQueue() override;
  BoundedTaskQueue(const BoundedTaskQueue&) = delete;
  BoundedTaskQueue& operator=(const BoundedTaskQueue&) = delete;

  void enqueue(std::function<void()> fn) override;
  void shutdown() override;
  // Called before the server stops: enqueue no longer waits for a slot.
  void release();

 private:
  void work();

  const std::size_t max_;
  TaskQueueSlot& slot_of_;
  ConnectionGuard* const guard_;
  const bool evict_when_full_;
  std::mutex mu_;
  std::condition_variable ready_, slot_;
  std::deque<std::function<void()>> jobs_;
  std::size_t in_flight_ = 0;  // queued + running
  bool stopping_ = false, released_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace bastion
