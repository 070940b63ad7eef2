#include "front/pid_file.h"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <optional>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/parse_number.h"

namespace bastion {
namespace {

// The pid a file holds; nullopt if unreadable or not a pid.
std::optional<pid_t> read_pid(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return std::nullopt;
  char buf[32] = {};
  const ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return std::nullopt;
  std::string s(buf, static_cast<std::size_t>(n));
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  const auto v = parse_unsigned(s, 1, 4194304);  // pid_max's ceiling
  if (!v) return std::nullopt;
  return static_cast<pid_t>(*v);
}

}  // namespace

std::unique_ptr<PidFile> PidFile::create(const std::string& path, std::string& error) {
  if (const auto old = read_pid(path)) {
    // EPERM: alive, just not ours to signal.
    if (*old != getpid() && (kill(*old, 0) == 0 || errno == EPERM))
      return error = "pid file " + path + " names a running process (" + std::to_string(*old) +
                     "): is another bastiond running? Remove the file if not.", nullptr;
  }
  // Written beside it and renamed over it: a reader never sees half a pid,
  // and a symlink planted at the temporary name is refused.
  const std::string tmp = path + ".tmp." + std::to_string(getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0) return error = "cannot write pid file " + tmp + ": " + std::strerror(errno), nullptr;
  const std::string text = std::to_string(getpid()) + "\n";
  const bool ok = write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  const int e = errno;
  close(fd);
  if (!ok || rename(tmp.c_str(), path.c_str()) != 0) {
    const int why = ok ? errno : e;
    unlink(tmp.c_str());
    return error = "cannot write pid file " + path + ": " + std::strerror(why), nullptr;
  }
  return std::unique_ptr<PidFile>(new PidFile(path));
}

PidFile::~PidFile() {
  if (read_pid(path_) == getpid()) unlink(path_.c_str());
}

}  // namespace bastion
