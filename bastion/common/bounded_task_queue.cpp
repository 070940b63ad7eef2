#include "common/bounded_task_queue.h"

namespace bastion {

void TaskQueueSlot::release() {
  std::lock_guard<std::mutex> g(mu);
  if (queue) queue->release();
}

BoundedTaskQueue::BoundedTaskQueue(std::size_t threads, std::size_t max_connections, TaskQueueSlot& slot,
                                   ConnectionGuard* guard, bool evict_when_full)
    : max_(max_connections), slot_of_(slot), guard_(guard), evict_when_full_(evict_when_full && guard) {
  for (std::size_t i = 0; i < threads; ++i) threads_.emplace_back([this] { work(); });
  std::lock_guard<std::mutex> g(slot_of_.mu);
  slot_of_.queue = this;
}

BoundedTaskQueue::~BoundedTaskQueue() {
  {
    std::lock_guard<std::mutex> g(slot_of_.mu);
    slot_of_.queue = nullptr;
  }
  shutdown();
}

void BoundedTaskQueue::enqueue(std::function<void()> fn) {
  std::unique_lock<std::mutex> g(mu_);
  // Lock order: this queue's, then the guard's (the guard never calls back).
  if (in_flight_ >= max_ && evict_when_full_) guard_->evict_oldest_waiting();
  slot_.wait(g, [this] { return in_flight_ < max_ || released_ || stopping_; });
  ++in_flight_;
  jobs_.push_back(std::move(fn));
  ready_.notify_one();
}

void BoundedTaskQueue::release() {
  std::lock_guard<std::mutex> g(mu_);
  released_ = true;
  slot_.notify_all();
}

void BoundedTaskQueue::shutdown() {
  {
    std::lock_guard<std::mutex> g(mu_);
    if (stopping_ && threads_.empty()) return;
    stopping_ = true;
  }
  ready_.notify_all();
  slot_.notify_all();
  for (auto& t : threads_)
    if (t.joinable()) t.join();
  threads_.clear();
}

void BoundedTaskQueue::work() {
  for (;;) {
    std::function<void()> fn;
    {
      std::unique_lock<std::mutex> g(mu_);
      ready_.wait(g, [this] { return !jobs_.empty() || stopping_; });
      if (jobs_.empty()) return;  // stopping, and every accepted connection served
      fn = std::move(jobs_.front());
      jobs_.pop_front();
    }
    if (guard_) guard_->enter();
    fn();  // serves and closes one connection (bounded by the server's timeouts and the guard)
    if (guard_) guard_->leave();
    std::lock_guard<std::mutex> g(mu_);
    --in_flight_;
    slot_.notify_one();
  }
}

}  // namespace bastion
