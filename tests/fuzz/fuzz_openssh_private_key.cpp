// The OpenSSH private key parser (CA keys in the format ssh-keygen writes):
// any input parses or fails cleanly, within bounds.
#include <cstddef>
#include <cstdint>
#include <string>

#include "ca/openssh_private_key.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  bastion::OpensshPrivateKey k;
  std::string err;
  bastion::parse_openssh_private_key(text, k, err);
  // The armour around raw bytes: the parser's own structure gets exercised.
  bastion::OpensshPrivateKey k2;
  bastion::parse_openssh_private_key("-----BEGIN OPENSSH PRIVATE KEY-----\n" + text +
                                         "\n-----END OPENSSH PRIVATE KEY-----\n",
                                     k2, err);
  return 0;
}
