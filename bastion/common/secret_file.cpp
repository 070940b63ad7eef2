#include "common/secret_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <openssl/rand.h>

#include "common/file_util.h"

namespace bastion {

bool load_or_create_secret(const std::string& path, std::string& secret, std::string& error) {
  if (read_file(path, secret) && secret.size() >= 32) return true;
  unsigned char buf[32];
  if (RAND_bytes(buf, sizeof buf) != 1) return error = "no randomness available", false;
  // O_EXCL: two bastions starting at once must not both write different keys.
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    if (errno == EEXIST && read_file(path, secret) && secret.size() >= 32) return true;
    return error = path + ": " + std::strerror(errno), false;
  }
  const bool ok = ::write(fd, buf, sizeof buf) == static_cast<ssize_t>(sizeof buf) && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok) return error = path + ": cannot write", false;
  secret.assign(reinterpret_cast<char*>(buf), sizeof buf);
  return true;
}

}  // namespace bastion
