#include "common/base64.h"

#include <openssl/evp.h>

#include <climits>

namespace bastion {
namespace {

bool in_alphabet(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
}

}  // namespace

std::string base64_encode(std::string_view bytes) {
  if (bytes.size() > INT_MAX / 4 * 3 - 3) return {};  // beyond what EVP takes in one int
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');  // + EVP's terminating NUL
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

bool base64_decode(std::string_view text, std::string& out) {
  // EVP_DecodeBlock skips surrounding whitespace and does not say how much
  // padding it dropped: check the form here, so only strict input reaches it.
  if (text.size() % 4 != 0 || text.size() > INT_MAX) return false;
  std::size_t pad = 0;
  while (pad < 2 && pad < text.size() && text[text.size() - 1 - pad] == '=') ++pad;
  for (std::size_t i = 0; i + pad < text.size(); ++i)
    if (!in_alphabet(text[i])) return false;
  out.assign(text.size() / 4 * 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
  if (n < 0 || static_cast<std::size_t>(n) != out.size()) return false;
  out.resize(out.size() - pad);
  return true;
}

bool is_sha256_fingerprint(std::string_view s) {
  if (!s.starts_with("SHA256:") || s.size() != 7 + 43) return false;
  return s.substr(7).find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/") ==
         std::string_view::npos;
}

}  // namespace bastion
