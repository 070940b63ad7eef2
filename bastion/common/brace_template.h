// A line with {name} placeholders ("{{" and "}}" are literal braces): checked
// against the names a caller knows, and expanded with the caller's values.
// Used for approvals.webhook_text (config checks it, the webhook expands it).
#pragma once
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace bastion {

// "" when every placeholder is one of `names` and the braces are balanced;
// else what is wrong (an unknown name, a lone or unclosed brace).
std::string brace_template_error(std::string_view tmpl, const std::vector<std::string_view>& names);

// The expanded line: each placeholder replaced by value(name). A template
// with an error expands only up to it.
std::string brace_template_expand(std::string_view tmpl, const std::function<std::string(std::string_view)>& value);

}  // namespace bastion
