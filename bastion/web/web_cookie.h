// The auditor's session cookie, read from a Cookie header.
#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace bastion {

inline constexpr const char* kWebCookieName = "bastion_audit";

// The value of cookie `name` in a Cookie header ("a=1; b=2"). nullopt when
// it is absent or present more than once (which one a browser meant cannot
// be known: fail closed).
std::optional<std::string> cookie_value(std::string_view header, std::string_view name);

}  // namespace bastion
