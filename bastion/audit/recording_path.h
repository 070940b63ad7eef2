// Where a recording of a session may live: the one name pattern bastiond
// writes, under recordings_dir. Everything that opens or deletes a path the
// audit store names (the web API, retention) checks it here first: whoever
// can edit the store must not steer a read or an unlink elsewhere.
#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace bastion {

// The part of `stored_path` under `recordings_dir` if it is
// "YYYY-MM-DD/<session_id>-<channel>.cast"; nullopt otherwise.
std::optional<std::string> recording_relative_path(std::string_view recordings_dir, std::string_view session_id,
                                                   std::string_view stored_path);

}  // namespace bastion
