// The chat form of a webhook event: approvals.webhook_text is a line with
// {placeholders} (common/brace_template.h; the names are
// kWebhookTextNames in config/config.h), and the POST body becomes
// {"text": "<line>"}, which Slack's and Mattermost's incoming webhooks (and
// others that copy them) post as a message. Values are escaped so that both
// render them literally (& < > as entities; ` * _ ~ [ ] and a mention's @ as
// fullwidth forms), so a command text cannot mention @channel, make a link
// or close the template's code span.
#pragma once
#include <string>

#include "approvals/approval.h"

namespace bastion {

// The expanded line (the template was checked when the config was loaded).
std::string webhook_text(const std::string& tmpl, const ApprovalRequest& r, const std::string& event);

}  // namespace bastion
