#include "front/pid_file.h"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <optional>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/parse_number.h"

namespace bastion {
namespace {

// The pid an open file holds; nullopt if empty or not a pid.
std::optional<pid_t> read_pid(int fd) {
  char buf[32] = {};
  const ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
  if (n <= 0) return std::nullopt;
  std::string s(buf, static_cast<std::size_t>(n));
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  const auto v = parse_unsigned(s, 1, 4194304);  // pid_max's ceiling
  if (!v) return std::nullopt;
  return static_cast<pid_t>(*v);
}

std::string named(const std::optional<pid_t>& pid) { return pid ? " (pid " + std::to_string(*pid) + ")" : ""; }

// Is `fd` still the file at `path`? (Another process may have removed or
// replaced it between our open and our lock.)
bool still_at(int fd, const std::string& path) {
  struct stat a{}, b{};
  return fstat(fd, &a) == 0 && lstat(path.c_str(), &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

bool alive(pid_t pid) { return kill(pid, 0) == 0 || errno == EPERM; }  // EPERM: alive, not ours

// Writes our pid to a new file beside `path`, locked, and renames it over
// `path`: whatever lock someone holds on the old file stays with the old file.
int replace_locked(const std::string& path, std::string& error) {
  const std::string tmp = path + ".tmp." + std::to_string(getpid());
  const int fd = ::open(tmp.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0) return error = "cannot write pid file " + tmp + ": " + std::strerror(errno), -1;
  const std::string text = std::to_string(getpid()) + "\n";
  if (flock(fd, LOCK_EX | LOCK_NB) != 0 || write(fd, text.data(), text.size()) != static_cast<ssize_t>(text.size()) ||
      fchmod(fd, 0644) != 0 || rename(tmp.c_str(), path.c_str()) != 0) {
    error = "cannot write pid file " + path + ": " + std::strerror(errno);
    unlink(tmp.c_str());
    close(fd);
    return -1;
  }
  return fd;
}

}  // namespace

std::unique_ptr<PidFile> PidFile::create(const std::string& path, std::string& error) {
  // A bastiond leaving unlinks the file it holds; a file found and locked
  // but no longer at the path is retried, a few times at most.
  for (int attempt = 0; attempt < 3; ++attempt) {
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0) return error = "cannot open pid file " + path + ": " + std::strerror(errno), nullptr;
    struct stat st{};
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      close(fd);
      return error = "pid file " + path + " is not a regular file", nullptr;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
      const int e = errno;
      const auto holder = read_pid(fd);
      close(fd);
      if (e != EWOULDBLOCK) return error = "cannot lock pid file " + path + ": " + std::strerror(e), nullptr;
      // A bastiond writes its pid while it holds the lock: a lock whose file
      // names no live process is someone else's (any reader may lock the
      // file), and must not keep bastiond down.
      if (holder && alive(*holder))
        return error = "pid file " + path + " is locked by a running bastiond" + named(holder) +
                       ": stop it first, or give this one another pid_file", nullptr;
      log_warn("pid file: replacing a stale one locked by a process it does not name", {{"path", path}});
      const int mine = replace_locked(path, error);
      if (mine < 0) return nullptr;
      return std::unique_ptr<PidFile>(new PidFile(path, mine));
    }
    if (!still_at(fd, path)) {
      close(fd);
      continue;
    }
    if (st.st_size > 0)
      log_warn("pid file: replacing a stale one (no bastiond holds it)",
               {{"path", path}, {"old", read_pid(fd) ? std::to_string(*read_pid(fd)) : "not a pid"}});
    const std::string text = std::to_string(getpid()) + "\n";
    if (ftruncate(fd, 0) != 0 || pwrite(fd, text.data(), text.size(), 0) != static_cast<ssize_t>(text.size()) ||
        fchmod(fd, 0644) != 0) {
      const int e = errno;
      close(fd);
      return error = "cannot write pid file " + path + ": " + std::strerror(e), nullptr;
    }
    return std::unique_ptr<PidFile>(new PidFile(path, fd));
  }
  return error = "pid file " + path + " keeps being replaced by another process", nullptr;
}

PidFile::~PidFile() {
  // Unlinked while still locked, so a starting bastiond never takes over a
  // file we are about to remove; only if the path is still our file.
  if (still_at(fd_, path_) && read_pid(fd_) == getpid()) unlink(path_.c_str());
  close(fd_);
}

}  // namespace bastion
