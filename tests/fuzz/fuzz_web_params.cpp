// The web API's untrusted inputs: query parameters (name=value pairs split
// from the input), the Cookie header, recording paths and asset names.
// Invariants: a parsed filter only holds checked values; a recording path
// accepted is always beneath the directory and names the session.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "web/api_params.h"
#include "audit/recording_file.h"
#include "web/static_assets.h"
#include "web/web_cookie.h"

using namespace bastion;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string s(reinterpret_cast<const char*>(data), size);
  QueryParams params;
  std::size_t start = 0;
  while (start <= s.size()) {
    const auto amp = s.find('&', start);
    const std::string pair = s.substr(start, amp == std::string::npos ? std::string::npos : amp - start);
    const auto eq = pair.find('=');
    params.emplace_back(pair.substr(0, eq), eq == std::string::npos ? "" : pair.substr(eq + 1));
    if (amp == std::string::npos) break;
    start = amp + 1;
  }
  std::string why;
  for (ApiList l : {ApiList::sessions, ApiList::commands})
    if (const auto f = parse_api_filter(l, params, 1'800'000'000, why)) {
      if (f->limit < 1 || f->limit > kApiMaxLimit) std::abort();
      if (!f->session.empty() && !valid_session_id(f->session)) std::abort();
      if (f->since && f->until && *f->since > *f->until) std::abort();
    }
  parse_recording_query(params, why);
  cookie_value(s, kWebCookieName);
  const std::string dir = "/data/recordings";
  const std::string id = "20261130T100031-c273c9dc4a720eab";
  if (const auto rel = recording_relative_path(dir, id, s)) {
    if (rel->find("..") != std::string::npos || !s.starts_with(dir + "/") || rel->find(id) != 11) std::abort();
  }
  if (valid_asset_name(s) && (s.find('/') != std::string::npos || s == "." || s == "..")) std::abort();
  return 0;
}
