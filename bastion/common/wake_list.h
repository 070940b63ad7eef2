// Threads that sleep in poll until their next deadline (sessions) are woken
// through this list when something changes for all of them at once: a
// reload (access may have been withdrawn) or shutdown. Each sleeper holds a
// Waker, an eventfd listed for its lifetime (RAII).
#pragma once
#include <mutex>
#include <set>

namespace bastion {

class WakeList {
 public:
  class Waker {
   public:
    explicit Waker(WakeList& list);
    ~Waker();
    Waker(const Waker&) = delete;
    Waker& operator=(const Waker&) = delete;
    // -1 when no eventfd could be made (out of descriptors): the sleeper
    // must then not sleep long, since nobody can wake it.
    int fd() const { return fd_; }
    // Reads the counter back to zero (the fd is non-blocking).
    void drain() const;

   private:
    WakeList& list_;
    int fd_;
  };

  WakeList() = default;
  WakeList(const WakeList&) = delete;
  WakeList& operator=(const WakeList&) = delete;
  void wake_all();
  std::size_t size() const;

 private:
  mutable std::mutex mu_;
  std::set<int> fds_;
};

}  // namespace bastion
