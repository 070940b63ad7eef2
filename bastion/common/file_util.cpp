#include "common/file_util.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace bastion {

int open_regular_file(const std::string& path, struct stat& st, std::string& why) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) return why = std::strerror(errno), -1;
  if (::fstat(fd, &st) != 0) {
    why = std::strerror(errno);
    ::close(fd);
    return -1;
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return why = "not a regular file", -1;
  }
  return fd;
}

bool read_all(int fd, std::string& out) {
  char buf[65536];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n == 0) break;
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return false;
    out.append(buf, static_cast<std::size_t>(n));
  }
  // A credential may have passed through the buffer.
  explicit_bzero(buf, sizeof buf);
  return true;
}

bool read_file(const std::string& path, std::string& out) {
  std::string why;
  return read_file(path, out, why);
}

bool read_file(const std::string& path, std::string& out, std::string& why) {
  out.clear();
  struct stat st{};
  const int fd = open_regular_file(path, st, why);
  if (fd < 0) return false;
  const bool ok = read_all(fd, out);
  if (!ok) why = std::strerror(errno);
  ::close(fd);
  if (!ok) out.clear();
  return ok;
}

bool write_file_atomic(const std::string& path, const std::string& text, mode_t mode, bool exclusive,
                       std::string& error) {
  const std::string tmp = exclusive ? path : path + ".tmp";
  // A temporary file left by a crash is rewritten, never followed.
  const int flags = O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW | (exclusive ? O_EXCL : O_TRUNC);
  const int fd = ::open(tmp.c_str(), flags, mode);
  if (fd < 0) return error = tmp + ": " + std::strerror(errno), false;
  const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
                  ::fchmod(fd, mode) == 0 && ::fsync(fd) == 0;
  const int saved = errno;
  ::close(fd);
  if (!ok || (!exclusive && ::rename(tmp.c_str(), path.c_str()) != 0)) {
    error = path + ": cannot write: " + std::strerror(ok ? errno : saved);
    ::unlink(tmp.c_str());
    return false;
  }
  return true;
}

}  // namespace bastion
