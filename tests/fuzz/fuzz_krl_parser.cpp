#include <cstdint>
#include <string>

#include "auth/revocation_list.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  bastion::RevocationList rl;
  std::string err;
  rl.parse_krl(std::string_view(reinterpret_cast<const char*>(data), size), err);
  bastion::SshCertificate c;
  c.serial = 5;
  c.key_id = "x";
  std::string why;
  rl.is_revoked(c, why);
  return 0;
}
