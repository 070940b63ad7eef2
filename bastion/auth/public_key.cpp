#include "auth/public_key.h"

#include <sstream>

#include <openssl/sha.h>

#include "common/base64.h"
#include "common/file_util.h"
#include "common/ssh_wire.h"

namespace bastion {

std::optional<PublicKey> parse_public_key_line(std::string_view line, std::string& error) {
  auto next_field = [&line]() {
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
    std::size_t end = line.find_first_of(" \t");
    std::string_view f = line.substr(0, end);
    line.remove_prefix(end == std::string_view::npos ? line.size() : end);
    return f;
  };
  PublicKey key;
  key.type = std::string(next_field());
  const std::string_view b64 = next_field();
  if (key.type.empty() || b64.empty()) {
    error = "expected \"<type> <base64> [comment]\"";
    return std::nullopt;
  }
  if (!base64_decode(b64, key.blob)) {
    error = "invalid base64 key data";
    return std::nullopt;
  }
  WireReader r(key.blob);
  std::string_view inner_type;
  if (!r.string(inner_type) || inner_type != key.type) {
    error = "key data does not match its type \"" + key.type + "\"";
    return std::nullopt;
  }
  while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
  key.comment = std::string(line);
  return key;
}

bool load_public_keys(const std::string& path, std::vector<PublicKey>& out, std::string& error) {
  std::string text, why;
  if (!read_file(path, text, why)) {
    error = path + ": " + why;
    return false;
  }
  std::istringstream in(text);
  std::string line;
  int lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    const auto first = line.find_first_not_of(" \t\r");
    if (first == std::string::npos || line[first] == '#') continue;
    if (line.back() == '\r') line.pop_back();
    std::string err;
    auto key = parse_public_key_line(std::string_view(line).substr(first), err);
    if (!key) {
      error = path + ":" + std::to_string(lineno) + ": " + err;
      return false;
    }
    out.push_back(std::move(*key));
  }
  return true;
}

std::string sha256_fingerprint(std::string_view blob) {
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(blob.data()), blob.size(), md);
  std::string b64 = base64_encode(
      std::string_view(reinterpret_cast<const char*>(md), sizeof md));
  while (!b64.empty() && b64.back() == '=') b64.pop_back();
  return "SHA256:" + b64;
}

}  // namespace bastion
