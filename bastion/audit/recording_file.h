// Opening a recording for the web API: only a file the audit store names
// for that very session, under recordings_dir, with no symlink anywhere on
// the way. Nothing from the request is ever used as a path: the route picks
// a row by index, and the row's path is checked before it is opened.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "audit/recording_path.h"

namespace bastion {

// An open file descriptor, closed on destruction.
class OwnedFd {
 public:
  explicit OwnedFd(int fd = -1) : fd_(fd) {}
  OwnedFd(OwnedFd&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  OwnedFd& operator=(OwnedFd&& o) noexcept;
  OwnedFd(const OwnedFd&) = delete;
  OwnedFd& operator=(const OwnedFd&) = delete;
  ~OwnedFd();
  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }

 private:
  int fd_;
};

struct OpenRecording {
  OwnedFd fd;
  uint64_t size = 0;  // at open; a live recording grows
};

// Opens it read-only beneath recordings_dir (openat2 RESOLVE_BENEATH |
// RESOLVE_NO_SYMLINKS, then the real path checked again); a regular file
// only. nullopt with `why` otherwise.
std::optional<OpenRecording> open_session_recording(const std::string& recordings_dir, std::string_view session_id,
                                                    std::string_view stored_path, std::string& why);

}  // namespace bastion
