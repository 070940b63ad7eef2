// The bounded set of reasons `bastion_auth_failures_total` is labelled with:
// a refusal's free text (which may quote what a client sent) never becomes a
// label, only one of these names.
#pragma once
#include <array>
#include <string_view>

namespace bastion {

enum class AuthFailure {
  method,                 // password, keyboard-interactive or another method
  not_certificate,        // a plain key, or nothing offered
  malformed_certificate,
  untrusted_ca,
  bad_signature,          // the CA's or the login's signature, or never signed for
  expired,
  not_yet_valid,
  source_address,
  revoked,
  limit,                  // max_sessions, per-identity limit
  other,
};
inline constexpr std::size_t kAuthFailureCount = static_cast<std::size_t>(AuthFailure::other) + 1;
inline constexpr std::array<std::string_view, kAuthFailureCount> kAuthFailureNames{
    "method",       "not_certificate", "malformed_certificate", "untrusted_ca", "bad_signature", "expired",
    "not_yet_valid", "source_address", "revoked",               "limit",        "other"};

// Which of the above a refusal's text (front/connection.cpp, auth/) is.
AuthFailure classify_auth_failure(std::string_view reason);

}  // namespace bastion
