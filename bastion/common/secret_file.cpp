#include "common/secret_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include <openssl/rand.h>

#include "common/file_util.h"

namespace bastion {

bool load_or_create_secret(const std::string& path, std::string& secret, std::string& error) {
  // An existing key is held like any credential: refused when others can read it.
  if (::access(path.c_str(), F_OK) == 0) {
    if (!read_secret_file(path, secret, error)) return false;
    if (secret.size() >= 32) return true;
    return error = path + ": too short (at least 32 bytes)", false;
  }
  unsigned char buf[32];
  if (RAND_bytes(buf, sizeof buf) != 1) return error = "no randomness available", false;
  // O_EXCL: two bastions starting at once must not both write different keys.
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    if (errno == EEXIST && read_secret_file(path, secret, error) && secret.size() >= 32) return true;
    return error = path + ": " + std::strerror(errno), false;
  }
  const bool ok = ::write(fd, buf, sizeof buf) == static_cast<ssize_t>(sizeof buf) && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok) return error = path + ": cannot write", false;
  secret.assign(reinterpret_cast<char*>(buf), sizeof buf);
  return true;
}

bool read_secret_file(const std::string& path, std::string& secret, std::string& error) {
  secret.clear();
  // The checks run on the file actually opened, not on a second lookup.
  struct stat st{};
  std::string why;
  const int fd = open_regular_file(path, st, why);
  if (fd < 0) return error = path + (why == "not a regular file" ? ": " : ": cannot read: ") + why, false;
  if (st.st_mode & 077) {
    ::close(fd);
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return error = path + ": mode " + mode + " is readable by group or others (chmod 600)", false;
  }
  secret.reserve(static_cast<std::size_t>(st.st_size) + 1);  // no reallocation leaves copies behind
  const bool ok = read_all(fd, secret);
  const int read_errno = errno;
  ::close(fd);
  if (!ok) {
    secret.clear();
    return error = path + ": cannot read: " + std::strerror(read_errno), false;
  }
  return true;
}

}  // namespace bastion
