#include "approvals/webhook_template.h"

#include "common/brace_template.h"
#include "common/display_escape.h"
#include "common/strings.h"
#include "common/time_util.h"

namespace bastion {
namespace {

std::string value(std::string_view name, const ApprovalRequest& r, const std::string& event) {
  if (name == "event") return event;
  if (name == "id") return std::to_string(r.id);
  if (name == "kind") return r.kind;
  if (name == "requester") return r.requester;
  if (name == "target") return r.target;
  if (name == "command") return r.command_text;
  if (name == "reason") return r.reason;
  if (name == "approvers") return join(r.approvers, ", ");
  if (name == "min_approvals") return std::to_string(r.min_approvals);
  if (name == "expires_at") return iso8601(r.expires_at);
  if (name == "decided_by") return r.decided_by;
  if (name == "deny_reason") return r.deny_reason;
  return "";
}

bool ascii_alnum(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// One line of what the requester typed (display_escape: no newline can
// forge a line of ours, no bidi or invisible character can hide text), then
// each chat tool's markup shown literally in both Slack and Mattermost:
// Slack's "&", "<", ">" as entities (Mattermost's Markdown shows entities as
// the character); Markdown's code, emphasis, strike and link characters as
// their fullwidth forms (Slack shows a backslash escape as a backslash, and
// inside a `code span` Mattermost does too, so escaping them would not read
// literally); an "@" that could start a mention (not after a letter or
// digit, so user@host stays) as a fullwidth "@". bastion.conf(5) lists them.
std::string escaped(const std::string& raw) {
  const std::string v = display_escape(raw);
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) {
    const char c = v[i];
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '`': out += "\xEF\xBD\x80"; break;  // U+FF40
      case '*': out += "\xEF\xBC\x8A"; break;  // U+FF0A
      case '_': out += "\xEF\xBC\xBF"; break;  // U+FF3F
      case '~': out += "\xEF\xBD\x9E"; break;  // U+FF5E
      case '[': out += "\xEF\xBC\xBB"; break;  // U+FF3B
      case ']': out += "\xEF\xBC\xBD"; break;  // U+FF3D
      case '@':
        if (i > 0 && ascii_alnum(v[i - 1])) out += c;
        else out += "\xEF\xBC\xA0";  // U+FF20
        break;
      default: out += c;
    }
  }
  return out;
}

}  // namespace

std::string webhook_text(const std::string& tmpl, const ApprovalRequest& r, const std::string& event) {
  return brace_template_expand(tmpl, [&](std::string_view n) { return escaped(value(n, r, event)); });
}

}  // namespace bastion
