// Fuzzes the config loader: the Lua sandbox, the validation and the
// line-finding for error messages. File checks are off (no key files).
#include <cstdint>
#include <cstdio>
#include <string>

#include <unistd.h>

#include "config/config.h"
#include "targets/target_kind.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  char path[] = "/tmp/bastion-fuzz-config-XXXXXX";
  const int fd = mkstemp(path);
  if (fd < 0) return 0;
  if (write(fd, data, size) != static_cast<ssize_t>(size)) {
    close(fd);
    unlink(path);
    return 0;
  }
  close(fd);
  std::string err;
  static const bastion::TargetKinds kinds = bastion::builtin_target_kinds();
  bastion::load_config(path, err, kinds, false);
  unlink(path);
  return 0;
}
