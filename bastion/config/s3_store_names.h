// The recordings_store names the config checks (prefix, bucket, endpoint):
// here, below both the config loader and recordings/, so that neither
// folder includes the other's way round.
#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace bastion {

// "" or words of [A-Za-z0-9._-] separated by single "/", ending in "/",
// no "." or ".." word; why not otherwise.
std::optional<std::string> s3_prefix_problem(std::string_view prefix);
// A bucket name S3 accepts (3-63 of [a-z0-9.-], starting and ending with a
// letter or digit); why not otherwise.
std::optional<std::string> s3_bucket_problem(std::string_view bucket);
// "http://HOST[:PORT]" or "https://...", nothing after the authority but an
// optional "/"; why not otherwise.
std::optional<std::string> s3_endpoint_problem(std::string_view endpoint);

}  // namespace bastion
