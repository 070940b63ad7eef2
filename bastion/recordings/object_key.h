// Names in the recordings bucket: the object a recording is shipped to is
// the recordings_store prefix plus its path under recordings_dir
// ("YYYY-MM-DD/SESSION-N.cast"), so a bucket lists like the local folder.
// Only names bastiond itself writes: nothing a user typed reaches a key.
#pragma once
#include <optional>
#include <string>
#include <string_view>

#include "config/s3_store_names.h"

namespace bastion {

// The object key of the recording stored at `stored_path` for `session_id`
// (recording_relative_path), or nullopt when the path is not one bastiond
// writes.
std::optional<std::string> recording_object_key(std::string_view prefix, std::string_view recordings_dir,
                                                std::string_view session_id, std::string_view stored_path);

}  // namespace bastion
