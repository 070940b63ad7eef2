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

}  // namespace bastion
