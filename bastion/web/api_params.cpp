#include "web/api_params.h"

#include <algorithm>
#include <array>
#include <set>

#include "audit/time_bound.h"
#include "common/parse_number.h"

namespace bastion {
namespace {

constexpr std::size_t kMaxText = 256;

// Printable text only: no control characters (they would reach logs and
// the page), and bounded.
bool plain_text(std::string_view s) {
  return s.size() <= kMaxText &&
         std::none_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; });
}

bool word(std::string_view s, std::size_t max) {
  return !s.empty() && s.size() <= max &&
         std::all_of(s.begin(), s.end(), [](char c) { return (c >= 'a' && c <= 'z') || c == '_' || c == '-'; });
}

}  // namespace

bool valid_session_id(std::string_view id) {
  // YYYYMMDDTHHMMSS-<16 hex>
  if (id.size() != 32 || id[8] != 'T' || id[15] != '-') return false;
  for (std::size_t i = 0; i < id.size(); ++i) {
    if (i == 8 || i == 15) continue;
    const char c = id[i];
    if (i < 15 ? !(c >= '0' && c <= '9') : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

std::optional<std::size_t> parse_recording_index(std::string_view s) {
  const auto n = parse_unsigned(s, 0, 9999);
  if (!n) return std::nullopt;
  return static_cast<std::size_t>(*n);
}

std::optional<AuditFilter> parse_api_filter(ApiList which, const QueryParams& params, int64_t now, std::string& why) {
  static const std::set<std::string> kSessions{"since", "until", "identity", "target", "decision", "limit"};
  static const std::set<std::string> kCommands{"since", "until", "identity", "target", "decision",
                                               "kind",  "grep",  "session",  "limit"};
  const auto& allowed = which == ApiList::sessions ? kSessions : kCommands;
  AuditFilter f;
  std::set<std::string> seen;
  for (const auto& [name, value] : params) {
    if (!allowed.count(name)) return why = "unknown parameter \"" + (plain_text(name) ? name : "?") + "\"", std::nullopt;
    if (!seen.insert(name).second) return why = name + ": given more than once", std::nullopt;
    std::string reason;
    if (name == "since" || name == "until") {
      const auto t = parse_time_bound(value, now, &reason);
      if (!t) return why = name + ": " + reason, std::nullopt;
      (name == "since" ? f.since : f.until) = *t;
    } else if (name == "limit") {
      const auto n = parse_unsigned(value, 1, kApiMaxLimit, &reason);
      if (!n) return why = "limit: " + reason, std::nullopt;
      f.limit = static_cast<int>(*n);
    } else if (name == "decision") {
      static constexpr std::array kDecisions{"allow", "mask", "review", "deny"};
      if (std::find(kDecisions.begin(), kDecisions.end(), value) == kDecisions.end())
        return why = "decision: expected allow, mask, review or deny", std::nullopt;
      f.decision = value;
    } else if (name == "kind") {
      if (!word(value, 32)) return why = "kind: expected a command kind (e.g. exec, shell, sql)", std::nullopt;
      f.kind = value;
    } else if (name == "session") {
      if (!valid_session_id(value)) return why = "session: not a session id", std::nullopt;
      f.session = value;
    } else {  // identity, target, grep
      if (value.empty() || !plain_text(value))
        return why = name + ": expected 1 to 256 characters without control characters", std::nullopt;
      (name == "identity" ? f.identity : name == "target" ? f.target : f.grep) = value;
    }
  }
  if (f.since && f.until && *f.since > *f.until) return why = "since is after until", std::nullopt;
  return f;
}

std::optional<uint64_t> parse_recording_query(const QueryParams& params, std::string& why) {
  std::optional<uint64_t> offset;
  for (const auto& [name, value] : params) {
    if (name != "offset") return why = "unknown parameter \"" + (plain_text(name) ? name : "?") + "\"", std::nullopt;
    if (offset) return why = "offset: given more than once", std::nullopt;
    std::string reason;
    offset = parse_unsigned(value, 0, uint64_t{1} << 53, &reason);
    if (!offset) return why = "offset: " + reason, std::nullopt;
  }
  return offset.value_or(0);
}

}  // namespace bastion
