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

// One line of what the requester typed (display_escape: no newline can
// forge a line of ours, no bidi or invisible character can hide text), then
// Slack's text-field controls "&", "<" and ">".
std::string escaped(const std::string& raw) {
  const std::string v = display_escape(raw);
  std::string out;
  for (char c : v) {
    if (c == '&') out += "&amp;";
    else if (c == '<') out += "&lt;";
    else if (c == '>') out += "&gt;";
    else out += c;
  }
  return out;
}

}  // namespace

std::string webhook_text(const std::string& tmpl, const ApprovalRequest& r, const std::string& event) {
  return brace_template_expand(tmpl, [&](std::string_view n) { return escaped(value(n, r, event)); });
}

}  // namespace bastion
