#include "common/wake_list.h"

#include <cstdint>

#include <sys/eventfd.h>
#include <unistd.h>

namespace bastion {

WakeList::Waker::Waker(WakeList& list) : list_(list), fd_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
  if (fd_ < 0) return;
  std::lock_guard<std::mutex> g(list_.mu_);
  list_.fds_.insert(fd_);
}

WakeList::Waker::~Waker() {
  if (fd_ < 0) return;
  {
    // Unlisted before it is closed, so wake_all never writes to a number
    // another file may have taken meanwhile.
    std::lock_guard<std::mutex> g(list_.mu_);
    list_.fds_.erase(fd_);
  }
  close(fd_);
}

void WakeList::Waker::drain() const {
  uint64_t n;
  if (fd_ >= 0) (void)!read(fd_, &n, sizeof n);
}

void WakeList::wake_all() {
  std::lock_guard<std::mutex> g(mu_);
  const uint64_t one = 1;
  // Non-blocking: a counter that is already high stays readable, which is all a wake needs.
  for (int fd : fds_) (void)!write(fd, &one, sizeof one);
}

std::size_t WakeList::size() const {
  std::lock_guard<std::mutex> g(mu_);
  return fds_.size();
}

}  // namespace bastion
