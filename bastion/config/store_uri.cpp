#include "config/store_uri.h"

#include <algorithm>
#include <cctype>

namespace bastion {

bool valid_store_uri(const std::string& uri, std::string& why) {
  std::string rest;
  for (const char* scheme : {"postgresql://", "postgres://"})
    if (uri.rfind(scheme, 0) == 0) rest = uri.substr(std::string(scheme).size());
  if (rest.empty()) return why = "expected \"postgresql://user@host:port/database\"", false;
  if (std::any_of(uri.begin(), uri.end(), [](unsigned char ch) { return ch < 0x21 || ch == 0x7f; }))
    return why = "a URI has no spaces or control characters", false;
  const std::size_t slash = rest.find('/');
  const std::string authority = rest.substr(0, slash);
  const std::size_t at = authority.rfind('@');
  if (at != std::string::npos && authority.substr(0, at).find(':') != std::string::npos)
    return why = "no password in the URI: put it in store_password_file (mode 0600) or libpq's passfile", false;
  std::string lower = rest;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char ch) { return std::tolower(ch); });
  const std::size_t q = lower.find('?');
  if (q != std::string::npos) {
    const std::string params = "&" + lower.substr(q + 1);
    if (params.find("&password=") != std::string::npos)
      return why = "no password in the URI: put it in store_password_file (mode 0600) or libpq's passfile", false;
  }
  if (slash == std::string::npos || slash + 1 >= rest.size() || rest[slash + 1] == '?')
    return why = "name the database: postgresql://user@host:port/database", false;
  if (authority.substr(at == std::string::npos ? 0 : at + 1).empty())
    return why = "name the host: postgresql://user@host:port/database", false;
  return true;
}

}  // namespace bastion
