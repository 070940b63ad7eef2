// Distinct numbers from a fixed range for concurrent holders: the uids
// bastiond (as root) runs each session's child processes as, so no two sessions,
// and no other service, share one. Thread-safe; a lease gives its id back.
#pragma once
#include <cstdint>
#include <mutex>
#include <optional>
#include <set>

namespace bastion {

class IdPool {
 public:
  IdPool(uint32_t first, uint32_t count) : first_(first), count_(count) {}
  IdPool(const IdPool&) = delete;
  IdPool& operator=(const IdPool&) = delete;

  // The next free id after the last one given (so a just-released id is not
  // handed out again at once), or nullopt when all are taken.
  std::optional<uint32_t> acquire() {
    std::lock_guard lock(m_);
    for (uint32_t tried = 0; tried < count_; ++tried) {
      const uint32_t id = first_ + (next_++ % count_);
      if (used_.insert(id).second) return id;
    }
    return std::nullopt;
  }
  void release(uint32_t id) {
    std::lock_guard lock(m_);
    used_.erase(id);
  }
  std::size_t in_use() const {
    std::lock_guard lock(m_);
    return used_.size();
  }

 private:
  const uint32_t first_, count_;
  mutable std::mutex m_;
  std::set<uint32_t> used_;
  uint32_t next_ = 0;
};

class IdLease {
 public:
  IdLease(IdPool& pool, uint32_t id) : pool_(&pool), id_(id) {}
  IdLease(const IdLease&) = delete;
  IdLease& operator=(const IdLease&) = delete;
  ~IdLease() { pool_->release(id_); }
  uint32_t id() const { return id_; }

 private:
  IdPool* pool_;
  uint32_t id_;
};

}  // namespace bastion
