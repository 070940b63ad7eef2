// Issue 16 attack review: the chat webhook (webhook_text) carries command
// text and reasons a requester typed into a channel approvers trust.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "approvals/webhook.h"

using namespace bastion;

namespace {

ApprovalRequest request(const std::string& command, const std::string& reason) {
  ApprovalRequest r;
  r.id = 12;
  r.kind = "command";
  r.session_id = "s1";
  r.requester = "mallory";
  r.target = "web1";
  r.command_kind = "exec";
  r.command_text = command;
  r.reason = reason;
  r.approvers = {"oncall"};
  r.created_at = 1'800'000'000;
  r.expires_at = 1'800'000'600;
  return r;
}

std::string chat_text(const std::string& tmpl, const ApprovalRequest& r) {
  return nlohmann::json::parse(Webhook::chat_payload(tmpl, r, "created"))["text"].get<std::string>();
}

const std::string kRecipe =
    "[{event}] #{id} {requester} on {target}: `{command}` ({reason}); decide: ssh approvals@bastion show {id}";

}  // namespace

TEST_CASE("i16 attack: a newline in the command forges a second chat line", "[i16][webhook]") {
  // The chat shows the message line by line: a held command (or an access
  // request's --reason) with a newline posts a line that reads as the
  // bastion's own, e.g. that the request was already approved.
  const ApprovalRequest r = request("uptime`\n[approved] #12 mallory on web1: `uptime", "held\r\n[approved] by boss");
  const std::string text = chat_text(kRecipe, r);
  CHECK(text.find('\n') == std::string::npos);
  CHECK(text.find('\r') == std::string::npos);
}

TEST_CASE("i16 attack: bidi and invisible characters reach the chat unescaped", "[i16][webhook]") {
  // U+202E reverses what follows: the approver reads another command.
  const ApprovalRequest r = request("echo \xE2\x80\xAE" "fr- mr", "held");
  const std::string text = chat_text(kRecipe, r);
  CHECK(text.find("\xE2\x80\xAE") == std::string::npos);
}

// Fixed: bastion.conf(5) names Mattermost and promises "a command cannot
// mention @channel or make a link"; only Slack's & < > were escaped, so
// Mattermost (Markdown) rendered [text](url) as a link and notified the
// channel on a plain @channel / @all. Markdown's characters and a mention's
// @ are now fullwidth forms, which both tools show literally.
TEST_CASE("i16 attack: Markdown links and @channel in the command reach a Mattermost channel",
          "[i16][webhook]") {
  const ApprovalRequest r = request("true` [approve here](https://evil.example/) @channel `", "held");
  const std::string text = chat_text(kRecipe, r);
  CHECK(text.find("](https://") == std::string::npos);
  CHECK(text.find("@channel") == std::string::npos);
  // Exactly: the code span cannot be closed early, nothing links or mentions.
  CHECK(text == "[created] #12 mallory on web1: `true\xEF\xBD\x80 \xEF\xBC\xBB" "approve here\xEF\xBC\xBD"
                "(https://evil.example/) \xEF\xBC\xA0" "channel \xEF\xBD\x80` (held); decide: ssh approvals@bastion show 12");
}

TEST_CASE("i16: chat escaping keeps user@host, breaks @here/@all, Slack's <!channel> and emphasis", "[i16][webhook]") {
  const ApprovalRequest r = request("ssh deploy@web2 <!channel> *b* _i_ ~s~", "(@here) @all");
  const std::string text = chat_text("{command} | {reason}", r);
  CHECK(text == "ssh deploy@web2 &lt;!channel&gt; \xEF\xBC\x8A" "b\xEF\xBC\x8A \xEF\xBC\xBF" "i\xEF\xBC\xBF"
                " \xEF\xBD\x9E" "s\xEF\xBD\x9E | (\xEF\xBC\xA0" "here) \xEF\xBC\xA0" "all");
}

#include "targets/postgres/pg_exec_options.h"

TEST_CASE("i16 attack: psql's bundled -xc is refused with a reason that contradicts itself", "[i16][sql]") {
  // psql (getopt) reads "-xc SQL" as -x -c SQL. The bastion said "psql
  // option -x is not available through the bastion (options: ..., -x, ...)".
  SqlExecOptions o = parse_sql_exec_line("-xc select 1");
  CHECK(o.error.empty());
  CHECK(o.print.expanded);
  CHECK(o.sql == "select 1");
  o = parse_sql_exec_line("-xcselect 2");
  CHECK(o.error.empty());
  CHECK(o.sql == "select 2");
  // A bundle with an option the bastion does not take names that one.
  o = parse_sql_exec_line("-xA select 1");
  CHECK(o.error.find("option -A is not available") != std::string::npos);
}
