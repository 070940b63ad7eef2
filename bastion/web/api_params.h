// The web API's query parameters, parsed strictly: only the names a route
// takes, each at most once, each value checked; anything else is a 400 with
// the reason (bastion-web(7)).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "audit/audit_query.h"

namespace bastion {

using QueryParams = std::vector<std::pair<std::string, std::string>>;

enum class ApiList { sessions, commands };

inline constexpr int kApiMaxLimit = 1000;

// The filter of GET /api/sessions or /api/commands. `now` resolves relative
// times ("10m"). nullopt with `why` ("since: ...") on a bad parameter.
std::optional<AuditFilter> parse_api_filter(ApiList which, const QueryParams& params, int64_t now, std::string& why);

// GET /api/sessions/ID/recordings/N?offset=B: the byte offset (0 without one).
std::optional<uint64_t> parse_recording_query(const QueryParams& params, std::string& why);

// A session id as new_session_id() makes them ("20261128T235901-<16 hex>").
bool valid_session_id(std::string_view id);

// A recording index: decimal, 0..9999.
std::optional<std::size_t> parse_recording_index(std::string_view s);

}  // namespace bastion
