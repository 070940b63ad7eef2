// Names in the recordings bucket: the object a recording is shipped to is
// the recordings_store prefix plus its path under recordings_dir
// ("YYYY-MM-DD/SESSION-N.cast"), so a bucket lists like the local folder.
// Only names bastiond itself writes: nothing a user typed reaches a key.
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

// The object key of the recording stored at `stored_path` for `session_id`
// (recording_relative_path), or nullopt when the path is not one bastiond
// writes.
std::optional<std::string> recording_object_key(std::string_view prefix, std::string_view recordings_dir,
                                                std::string_view session_id, std::string_view stored_path);

}  // namespace bastion
