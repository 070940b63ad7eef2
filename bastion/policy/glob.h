// Shell-style glob (*, ?, [abc], [a-z], [!x]) with O(len(pattern) * len(text))
// worst case: no backtracking blow-up whatever the input.
#pragma once
#include <string_view>

namespace bastion {

bool glob_match(std::string_view pattern, std::string_view text);

}  // namespace bastion
