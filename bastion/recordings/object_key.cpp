#include "recordings/object_key.h"

#include "audit/recording_path.h"

namespace bastion {

std::optional<std::string> recording_object_key(std::string_view prefix, std::string_view recordings_dir,
                                                std::string_view session_id, std::string_view stored_path) {
  if (s3_prefix_problem(prefix)) return std::nullopt;
  const auto rel = recording_relative_path(recordings_dir, session_id, stored_path);
  if (!rel) return std::nullopt;
  return std::string(prefix) + *rel;
}

}  // namespace bastion
