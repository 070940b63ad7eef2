// The page's files: GET / is web_assets_dir/index.html, GET /assets/NAME a
// file directly in web_assets_dir/assets. NAME is checked (letters, digits,
// '.', '_', '-'; no leading dot, so never ".."), its type must be one the
// page uses, and the file must be a regular file (no symlink followed).
#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace bastion {

// The Content-Type for a served name, or nullptr: not served.
const char* asset_content_type(std::string_view name);

bool valid_asset_name(std::string_view name);

// Reads `name` in `dir` (at most 16 MiB). nullopt when it is not there, not
// a regular file or a symlink.
std::optional<std::string> read_asset(const std::string& dir, std::string_view name);

}  // namespace bastion
