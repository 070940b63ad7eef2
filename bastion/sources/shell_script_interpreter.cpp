#include "sources/shell_script_interpreter.h"

#include <algorithm>
#include <memory>

#include "common/display_escape.h"
#include "common/time_util.h"
#include "policy/shell_parse.h"
#include "sources/shell_line_facts.h"

namespace bastion {
namespace {

// A line of only blanks runs nothing ("\r" alone would run a program named "\r").
bool blank(std::string_view line) { return line.find_first_not_of(" \t") == std::string_view::npos; }

// shell_text_complete reads the whole unit, so asking after every line of a
// unit of many short lines is quadratic (a minute of CPU for 64 KiB of
// one-character commands inside a loop; a 60 KB here-doc costs 16 ms).
// Every line is asked about until the unit has cost this much time; then
// only once the unit grew by an eighth, so the rest costs a bounded multiple
// of its size. A late answer only joins the lines after the unit's end to
// it: they are decided with it, as one text, never sent on undecided.
constexpr double kCompleteTimeBudget = 0.1;  // seconds per unit

// How much of a unit refused as too long its audit row keeps.
constexpr std::size_t kRefusedTextShown = 1024;

}  // namespace

ShellScriptInterpreter::ShellScriptInterpreter(CommandGate& gate, ScriptTarget& target)
    : gate_(gate), target_(target), console_(*this, CommandConsole::Input::script, false, kScriptMaxLine) {}

ShellScriptInterpreter::~ShellScriptInterpreter() { end(std::nullopt); }

std::size_t ShellScriptInterpreter::input_capacity() const {
  if (stopped_ || eof_due_) return kScriptMaxLine;  // read and dropped
  // Room for one whole line past what waits: more waits in the SSH window.
  const std::size_t cap = 2 * kScriptMaxLine;
  return console_.buffered() < cap ? cap - console_.buffered() : 0;
}

void ShellScriptInterpreter::write_input(std::string_view data) {
  if (stopped_ || eof_due_) return;  // the script was stopped: the rest never runs
  console_.write_input(data);
}

void ShellScriptInterpreter::send_eof() { console_.send_eof(); }

void ShellScriptInterpreter::step(OutputWriter& out) {
  if (ended_) return;
  console_.attach(&out);
  if (held_) {
    const std::optional<GateResult> res = held_->review.poll();
    if (res) {
      std::string text = std::move(held_->text);
      held_.reset();
      decided(*res, std::move(text));
    }
  }
  forward();
  console_.step();
  console_.flush();
  console_.attach(nullptr);
}

void ShellScriptInterpreter::on_line(const std::string& line) {
  if (stopped_) return;
  // The console caps only a line still open; a whole one may come longer.
  if (line.size() > kScriptMaxLine) return refuse_too_long("line");
  // Blank lines between units run nothing: sent on as they are.
  if (unit_.empty() && blank(line)) {
    outgoing_ += line + "\n";
    return forward();
  }
  if (unit_lines_ > 0) unit_ += '\n';
  unit_ += line;
  ++unit_lines_;
  if (unit_.size() > kScriptMaxLine)
    return refuse_too_long("command");
  if (scan_time_ >= kCompleteTimeBudget && unit_.size() < checked_size_ + checked_size_ / 8) return;
  const double t0 = monotonic_seconds();
  const bool complete = shell_text_complete(unit_);
  scan_time_ += monotonic_seconds() - t0;
  checked_size_ = unit_.size();
  if (complete) submit_unit();
}

void ShellScriptInterpreter::on_end_of_input() {
  if (stopped_) return;
  // An unfinished unit at the end (an open quote): the shell reads it as it
  // is, so it is decided as it is (the policy sees the parse error).
  if (!unit_.empty()) submit_unit();
  if (stopped_ || busy()) return;
  eof_due_ = true;
  forward();
}

void ShellScriptInterpreter::on_line_too_long() {
  refuse_too_long("line");
}

void ShellScriptInterpreter::submit_unit() {
  // The previous unit's row ends when the next is decided: the shell gives
  // no sign of where one command's output stops.
  end_previous(std::nullopt);
  std::string text = std::move(unit_);
  ShellLine facts;
  facts.source = "script";
  facts.continued = unit_lines_ > 1;
  unit_.clear();
  unit_lines_ = 0;
  scan_time_ = 0;
  checked_size_ = 0;
  CommandRequest req = gate_.request("shell_line", text);
  req.facts = std::make_shared<ShellLineFacts>(std::move(facts));
  const GateResult g = gate_.submit(req);
  if (g.review_id) {  // held: later lines wait unread until it is decided
    held_ = Held{HeldCommand(gate_, g), std::move(text)};
    return;
  }
  decided(g, std::move(text));
}

void ShellScriptInterpreter::decided(const GateResult& g, std::string text) {
  if (!g.decision.allowed()) {
    CommandOutcome o;
    o.status = kScriptExitDenied;
    o.error = "denied";
    gate_.command_ended(g.command_id, o);
    return refuse_rest("bastion: denied: " + display_escape(g.refusal) + "\n");
  }
  running_id_ = g.command_id;
  masks_.insert(masks_.end(), g.decision.mask.begin(), g.decision.mask.end());
  outgoing_ += text;
  outgoing_ += '\n';
  forward();
}

void ShellScriptInterpreter::refuse_too_long(const std::string& what) {
  // On record like a denial; the row shows how the unit began.
  end_previous(std::nullopt);
  const std::string reason = what + " too long for the bastion (64 KiB)";
  ShellLine facts;
  facts.source = "script";
  facts.continued = unit_lines_ > 1;
  CommandRequest req = gate_.request("shell_line", unit_.substr(0, kRefusedTextShown));
  req.facts = std::make_shared<ShellLineFacts>(std::move(facts));
  const GateResult g = gate_.refuse(req, reason);
  CommandOutcome o;
  o.status = kScriptExitDenied;
  o.error = "refused";
  gate_.command_ended(g.command_id, o);
  refuse_rest("bastion: " + reason + "; the rest of the input was not run\n");
}

void ShellScriptInterpreter::refuse_rest(const std::string& message) {
  // Later lines may depend on this one (a refused `cd`): none of them runs.
  console_.emit(Stream::err, message);
  stopped_ = true;
  unit_.clear();  // what the console still holds is never read: finished()
  eof_due_ = true;
  forward();
}

void ShellScriptInterpreter::end_previous(std::optional<int> status) {
  if (running_id_ == 0) return;
  CommandOutcome o;
  o.status = status;
  gate_.command_ended(running_id_, o);
  running_id_ = 0;
}

void ShellScriptInterpreter::forward() {
  std::size_t sent = 0;
  while (sent < outgoing_.size()) {
    const std::size_t cap = target_.input_capacity();
    if (cap == 0) break;
    const std::size_t n = std::min(cap, outgoing_.size() - sent);
    if (!target_.write_input(std::string_view(outgoing_).substr(sent, n))) {
      sent = outgoing_.size();  // the channel failed: its end follows
      break;
    }
    sent += n;
  }
  outgoing_.erase(0, sent);
  if (outgoing_.empty() && eof_due_ && !eof_sent_) {
    target_.send_eof();
    eof_sent_ = true;
  }
}

void ShellScriptInterpreter::end(std::optional<int> status) {
  if (ended_) return;
  ended_ = true;
  if (held_) {
    held_->review.withdraw();
    held_.reset();
  }
  end_previous(status);
}

}  // namespace bastion
