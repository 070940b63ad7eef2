#include "audit/recording_file.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>

namespace bastion {
namespace {

std::string real_path(const std::string& p) {
  char buf[PATH_MAX];
  return ::realpath(p.c_str(), buf) ? std::string(buf) : std::string();
}

}  // namespace

OwnedFd& OwnedFd::operator=(OwnedFd&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = o.fd_;
    o.fd_ = -1;
  }
  return *this;
}

OwnedFd::~OwnedFd() {
  if (fd_ >= 0) ::close(fd_);
}

std::optional<OpenRecording> open_session_recording(const std::string& recordings_dir, std::string_view session_id,
                                                    std::string_view stored_path, std::string& why) {
  const auto rel = recording_relative_path(recordings_dir, session_id, stored_path);
  if (!rel) return why = "the store names a recording outside this session's files", std::nullopt;
  OwnedFd dir(::open(recordings_dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW));
  if (!dir) return why = "recordings directory: " + std::string(std::strerror(errno)), std::nullopt;
  open_how how{};
  how.flags = O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  OwnedFd fd(static_cast<int>(::syscall(SYS_openat2, dir.get(), rel->c_str(), &how, sizeof how)));
  if (!fd) return why = "cannot open the recording: " + std::string(std::strerror(errno)), std::nullopt;
  struct stat st{};
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) return why = "the recording is not a regular file", std::nullopt;
  // Belt and braces: the file really is where the store says, under the
  // real recordings directory.
  const std::string base = real_path(recordings_dir);
  const std::string actual = real_path("/proc/self/fd/" + std::to_string(fd.get()));
  if (base.empty() || actual != base + "/" + *rel) return why = "the recording is not where the store says", std::nullopt;
  return OpenRecording{std::move(fd), static_cast<uint64_t>(st.st_size)};
}

}  // namespace bastion
