#include "audit/recording_path.h"

namespace bastion {
namespace {

bool digits(std::string_view s) {
  return !s.empty() && s.find_first_not_of("0123456789") == std::string_view::npos;
}

}  // namespace

std::optional<std::string> recording_relative_path(std::string_view recordings_dir, std::string_view session_id,
                                                   std::string_view stored_path) {
  std::string dir(recordings_dir);
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  dir += '/';
  if (!stored_path.starts_with(dir)) return std::nullopt;
  const std::string_view rel = stored_path.substr(dir.size());
  // YYYY-MM-DD/
  if (rel.size() < 11 || rel[4] != '-' || rel[7] != '-' || rel[10] != '/' || !digits(rel.substr(0, 4)) ||
      !digits(rel.substr(5, 2)) || !digits(rel.substr(8, 2)))
    return std::nullopt;
  std::string_view file = rel.substr(11);
  if (session_id.empty() || !file.starts_with(session_id) || !file.ends_with(".cast")) return std::nullopt;
  file.remove_prefix(session_id.size());
  file.remove_suffix(5);
  if (file.size() < 2 || file[0] != '-' || !digits(file.substr(1)) || file.size() > 6) return std::nullopt;
  return std::string(rel);
}

}  // namespace bastion
