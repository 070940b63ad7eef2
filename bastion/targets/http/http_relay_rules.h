// What the HTTP target drops and masks on the way through: the one table
// of dropped headers and of unmasked body types (bastion.conf(5) lists
// the same).
#pragma once
#include <string>
#include <string_view>

namespace bastion {

// A client header that never goes upstream.
bool http_request_header_dropped(std::string_view name);
// An upstream header that never comes back to the client.
bool http_response_header_dropped(std::string_view name);
// Whether a response body of this Content-Type ("" when none) passes the
// masks: every one but the known binary types (layers, media, archives).
bool http_body_masked(const std::string& content_type);

}  // namespace bastion
