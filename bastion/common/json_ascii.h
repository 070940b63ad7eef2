// A JSON string spelled exactly as nlohmann::json's dump spells it, without
// building a json value, for ASCII text (the hot paths: every audit row's
// chain entry, every decision's log line). Anything else goes the general way.
#pragma once
#include <string>
#include <string_view>

namespace bastion {

enum class JsonDel {
  raw,      // dump(..., ensure_ascii = false): DEL (0x7f) as itself
  escaped,  // dump(..., ensure_ascii = true): DEL as \u007f
};

// Appends `t` quoted and escaped (\" \\ \b \f \n \r \t, other control bytes
// as \u00xx); false, with `out` partly written, when a byte is 0x80 or more.
bool append_ascii_json_string(std::string& out, std::string_view t, JsonDel del);

}  // namespace bastion
