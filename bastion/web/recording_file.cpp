#include "web/recording_file.h"

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

bool digits(std::string_view s) {
  return !s.empty() && s.find_first_not_of("0123456789") == std::string_view::npos;
}

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

std::optional<std::string> recording_relative_path(std::string_view recordings_dir, std::string_view session_id,
                                                   std::string_view stored_path) {
  std::string dir(recordings_dir);
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  dir += '/';
  if (!stored_path.starts_with(dir)) return std::nullopt;
  const std::string_view rel = stored_path.substr(dir.size());
  // YYYY-MM-DD/
  if (rel.size() < 11 || rel[4] != '-' || rel[7] != '-' || rel[10] != '/' || !digits(rel.substr(0, 4)) ||
      !digits(rel.substr(5, 2)) || !digits(rel.substr(8, 2)))
    return std::nullopt;
  std::string_view file = rel.substr(11);
  if (session_id.empty() || !file.starts_with(session_id) || !file.ends_with(".cast")) return std::nullopt;
  file.remove_prefix(session_id.size());
  file.remove_suffix(5);
  if (file.size() < 2 || file[0] != '-' || !digits(file.substr(1)) || file.size() > 6) return std::nullopt;
  return std::string(rel);
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
