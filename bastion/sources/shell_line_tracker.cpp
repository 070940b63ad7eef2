#include "sources/shell_line_tracker.h"

#include <algorithm>
#include <memory>

#include "common/display_escape.h"
#include "policy/shell_parse.h"

namespace bastion {
namespace {

constexpr double kQuiet = 0.003;          // output quiet this long after the echo: settled
constexpr double kClearQuiet = 0.005;     // the target's redraw of a cleared line is over
constexpr double kClearMax = 0.3;         // give up waiting for that redraw
constexpr double kSettleMin = 0.05, kSettleMax = 1.0;
constexpr std::size_t kJoinedMax = 64 * 1024;

std::string rtrim(std::string s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\n')) s.pop_back();
  return s;
}

bool blank(const std::string& s) { return s.find_first_not_of(' ') == std::string::npos; }

std::string digits_masked(std::string s) {
  for (char& c : s)
    if (c >= '0' && c <= '9') c = '0';
  return s;
}

// Whether two prompts are the same shell's: equal but for digits, or the
// same prompt character ($ # % >) after the same first characters (the
// working directory in the prompt changes with cd).
bool similar_prompt(const std::string& a, const std::string& b) {
  if (blank(a) || blank(b)) return false;
  if (digits_masked(a) == digits_masked(b)) return true;
  const std::string ta = rtrim(a), tb = rtrim(b);
  if (ta.size() < 2 || tb.size() < 2 || ta.back() != tb.back()) return false;
  const std::size_t k = std::min<std::size_t>({4, ta.size() - 1, tb.size() - 1});
  return ta.compare(0, k, tb, 0, k) == 0;
}

bool is_submitter(unsigned char c) { return c == '\r' || c == '\n' || c == 0x0f; }

std::string program_of(const std::string& text) {
  const ShellParse p = parse_command(text);
  for (const auto& part : p.parts) {
    if (!part.program.empty()) return part.program;
    if (!part.argv.empty()) return part.argv[0];
  }
  return "";
}

}  // namespace

ShellLineTracker::ShellLineTracker(CommandGate& gate, int cols, int rows, Clock clock)
    : gate_(gate), clock_(std::move(clock)), model_(cols, rows), size_refused_(!ScreenModel::size_ok(cols, rows)) {}

ShellLineTracker::~ShellLineTracker() = default;

void ShellLineTracker::client_input(std::string_view data) {
  consume(data);
  step();
}

void ShellLineTracker::consume(std::string_view data) {
  for (std::size_t i = 0; i < data.size(); ++i) {
    const auto c = static_cast<unsigned char>(data[i]);
    if (phase_ != Phase::idle) {
      // Held behind an undecided line; only Ctrl-C acts at once.
      if (c == 0x03) ctrl_c();
      else queue_ += static_cast<char>(c);
      continue;
    }
    // A control key ends an escape sequence: ESC CR, or CR inside a broken
    // CSI, still submits (readline runs the line either way).
    if (esc_ != 0 && c < 0x20 && c != 0x1b) esc_ = 0;
    if (esc_ == 1) {
      esc_ = c == '[' ? 2 : 0;
      csi_.clear();
      forward_key(static_cast<char>(c), false);
      line_.shadow_ok = false;
      continue;
    }
    if (esc_ == 2) {
      forward_key(static_cast<char>(c), false);
      line_.shadow_ok = false;
      if (c >= 0x40 && c <= 0x7e) {
        // Bracketed paste only fills the shell's buffer: its newlines run nothing.
        // Honoured only while the shell asked for it (mode 2004): elsewhere
        // ESC[200~ is just keys and a CR after it runs the line.
        if (c == '~' && csi_ == "200" && paste_mode_) in_paste_ = true;
        if (c == '~' && csi_ == "201") in_paste_ = false;
        esc_ = 0;
      } else if (csi_.size() < 16) {
        csi_ += static_cast<char>(c);
      }
      continue;
    }
    if (c == 0x1b) {
      esc_ = 1;
      forward_key(static_cast<char>(c), false);
      line_.shadow_ok = false;
      continue;
    }
    if (!in_paste_ && (is_submitter(c) || (c == 0x04 && line_.keys > 0))) {
      held_ = static_cast<char>(c);
      held_at_ = clock_();
      phase_ = Phase::pending;
      continue;  // what follows is queued
    }
    if (!in_paste_ && c == 0x03) {
      ctrl_c();
      continue;
    }
    if (c == 0x04 && !line_.started) {  // end of input, not a line
      forward(static_cast<char>(c));
      continue;
    }
    forward_key(static_cast<char>(c), c >= 0x20 && c != 0x7f);
    shadow_key(c);
  }
}

void ShellLineTracker::shadow_key(unsigned char c) {
  Line& l = line_;
  if (!l.shadow_ok) return;
  if (in_paste_) {
    l.shadow_ok = false;
  } else if (c >= 0x20 && c != 0x7f) {
    if (l.shadow.size() < kLineMax) l.shadow += static_cast<char>(c);
    else l.shadow_ok = false;
  } else if (c == 0x08 || c == 0x7f) {  // erase one character (all its UTF-8 bytes)
    while (!l.shadow.empty() && (static_cast<unsigned char>(l.shadow.back()) & 0xc0) == 0x80) l.shadow.pop_back();
    if (!l.shadow.empty()) l.shadow.pop_back();
  } else if (c == 0x15) {  // Ctrl-U: the whole line (the cursor is at its end)
    l.shadow.clear();
  } else if (c == 0x17) {  // Ctrl-W: the word before the cursor
    while (!l.shadow.empty() && l.shadow.back() == ' ') l.shadow.pop_back();
    while (!l.shadow.empty() && l.shadow.back() != ' ') l.shadow.pop_back();
  } else {
    l.shadow_ok = false;  // Tab, Ctrl-R, Ctrl-A...: only the screen knows the line now
  }
}

void ShellLineTracker::forward_key(char b, bool printable) {
  if (!line_.started) start_line();
  ++line_.keys;
  if (printable) ++line_.printable;
  forward(b);
}

void ShellLineTracker::forward(char b) {
  const double now = clock_();
  to_target_ += b;
  output_after_forward_ = false;
  if (!awaiting_echo_) awaiting_echo_ = true, rtt_start_ = now;
}

void ShellLineTracker::start_line() {
  line_ = Line{};
  line_.started = true;
  line_.boundary = model_.cursor();
  line_.scroll = model_.scrolled();
  line_.prompt = model_.text(line_.boundary.row, 0, line_.boundary.col);
  // The echo of the last key sent (an Enter) has not come back: the cursor
  // is not where this line starts. Read it by the prompt instead.
  line_.stale = !output_after_forward_;
  if (running_ && !line_.stale &&
      (similar_prompt(line_.prompt, running_prompt_) || similar_prompt(line_.prompt, login_prompt_))) {
    running_ = false;
    fullscreen_free_ = false;
  }
  if (login_prompt_.empty() && !running_ && !line_.stale && !blank(line_.prompt)) login_prompt_ = line_.prompt;
}

bool ShellLineTracker::target_output(std::string_view data) {
  const double now = clock_();
  // The one place target output enters the model. While a line is being
  // typed nothing is cut from it (every scrolled row counts); between lines
  // long output is only parsed as far as it can still be seen.
  model_.set_line_open(line_.started);
  model_.feed(data);
  track_paste_mode(data);
  last_output_ = now;
  output_after_forward_ = true;
  if (awaiting_echo_) {
    rtt_ = 0.8 * rtt_ + 0.2 * std::min(now - rtt_start_, kSettleMax);
    awaiting_echo_ = false;
  }
  if (model_.in_altscreen() != was_alt_) {
    was_alt_ = !was_alt_;
    alt_entered_ = was_alt_;
    if (!was_alt_) fullscreen_free_ = false;
  }
  return phase_ != Phase::clearing;
}

void ShellLineTracker::track_paste_mode(std::string_view data) {
  // DECSET/DECRST 2004 (bracketed paste), also inside a list ("?1;2004h").
  for (const char ch : data) {
    const auto c = static_cast<unsigned char>(ch);
    switch (out_esc_) {
      case 0: out_esc_ = c == 0x1b ? 1 : 0; break;
      case 1: out_esc_ = c == '[' ? 2 : 0; break;
      case 2:
        out_esc_ = c == '?' ? 3 : 0;
        out_params_.clear();
        break;
      default:
        if ((c >= '0' && c <= '9') || c == ';') {
          if (out_params_.size() < 32) out_params_ += static_cast<char>(c);
          break;
        }
        if (c == 'h' || c == 'l') {
          const std::string list = ";" + out_params_ + ";";
          if (list.find(";2004;") != std::string::npos) paste_mode_ = c == 'h';
        }
        out_esc_ = c == 0x1b ? 1 : 0;
    }
  }
}

void ShellLineTracker::resize(int cols, int rows) { size_refused_ = !model_.resize(cols, rows); }

double ShellLineTracker::settle_timeout() const { return std::clamp(8 * rtt_, kSettleMin, kSettleMax); }

bool ShellLineTracker::settled(double now) const {
  if (now - held_at_ >= settle_timeout()) return true;
  return output_after_forward_ && now - last_output_ >= kQuiet;
}

void ShellLineTracker::step() {
  check_altscreen();
  const double now = clock_();
  if (phase_ == Phase::pending && settled(now)) decide();
  if (phase_ == Phase::review) poll_review();
  if (phase_ == Phase::clearing) {
    const bool quiet = output_after_forward_ && now - last_output_ >= kClearQuiet;
    if ((quiet && rtrim(read_region().text).empty()) || now - clear_started_ >= kClearMax) finish_clear();
  }
}

void ShellLineTracker::check_altscreen() {
  if (!alt_entered_) return;
  alt_entered_ = false;
  // Entered at a prompt (printf '\e[?1049h'): nothing is suspended.
  if (!running_ || !model_.in_altscreen()) return;
  if (!fullscreen_asked_) {
    fullscreen_asked_ = true;
    ShellLine f = facts_base();
    f.nested = false;
    f.fullscreen = true;
    f.program = running_program_;
    CommandRequest req = gate_.request("shell_line", running_text_);
    req.facts = std::make_shared<ShellLineFacts>(std::move(f));
    // Never held: a full-screen program that needs a review stays decided line by line.
    const GateResult g = gate_.submit_request(req);
    fullscreen_allowed_ = g.decision.allowed();
    if (g.command_id > 0) gate_.request_ended(g.command_id, CommandOutcome{});
  }
  fullscreen_free_ = fullscreen_allowed_;
}

bool ShellLineTracker::prompt_back() const {
  // The shell's prompt at the cursor row: the full-screen program ended
  // (or never ran: a printf of the switch), so lines are decided again.
  const int row = model_.cursor().row;
  const std::string text = model_.text(row, 0, model_.content_end(row));
  for (const std::string* p : {&running_prompt_, &login_prompt_}) {
    const std::string t = rtrim(*p);
    if (t.empty()) continue;
    const std::size_t k = std::min<std::size_t>(4, t.size());
    if (text.compare(0, k, t, 0, k) == 0 && text.find(std::string(1, t.back()) + " ") != std::string::npos)
      return true;
  }
  return false;
}

ShellLine ShellLineTracker::facts_base() const {
  ShellLine f;
  f.source = "screen";
  f.prompt = line_.prompt;
  f.nested = running_;
  if (running_) f.program = running_program_;
  return f;
}

ShellLineTracker::Region ShellLineTracker::read_region() const {
  Region r;
  const ScreenPos cur = model_.cursor();
  const auto moved = static_cast<int64_t>(model_.scrolled() - line_.scroll);
  int brow = static_cast<int>(std::max<int64_t>(-1, line_.boundary.row - moved));
  int bcol = line_.boundary.col;
  const bool anchored = line_.started && !line_.stale && brow >= 0 && brow <= cur.row &&
                        model_.text(brow, 0, bcol) == line_.prompt;
  if (!anchored) {
    // Redrawn (Ctrl-L, typeahead, scrolled away): find the prompt at the
    // start of the cursor's logical line, or decide that whole line.
    int start = cur.row;
    while (start > 0 && model_.wraps(start - 1)) --start;
    brow = start;
    bcol = 0;
    r.prompt_known = false;
    // Readline's incremental search replaces the prompt until Enter
    // accepts the match: the line is what follows its "': ".
    const std::string head = model_.text(start, 0, model_.content_end(start));
    const auto mark = head.find("': ");
    if (head.rfind("(reverse-i-search)`", 0) == 0 || head.rfind("(i-search)`", 0) == 0 ||
        head.rfind("(failed reverse-i-search)`", 0) == 0 || head.rfind("(failed i-search)`", 0) == 0) {
      for (int c = 1; c <= model_.cols() && mark != std::string::npos && !r.prompt_known; ++c)
        if (model_.text(start, 0, c).size() == mark + 3) bcol = c, r.prompt_known = true;
    }
    for (const std::string* p : {&line_.prompt, &running_prompt_, &login_prompt_}) {
      if (r.prompt_known) break;
      if (blank(*p)) continue;
      for (int c = 1; c <= model_.cols() && !r.prompt_known; ++c)
        if (model_.text(start, 0, c) == *p) bcol = c, r.prompt_known = true;
      if (r.prompt_known) break;
    }
  }
  // The shell drew its prompt again below the boundary (a completion
  // list, a job notice): the line starts after that prompt.
  if (anchored && !blank(line_.prompt)) {
    int start = cur.row;
    while (start > brow && model_.wraps(start - 1)) --start;
    if (start > brow && model_.text(start, 0, bcol) == line_.prompt) brow = start;
  }
  int end = cur.row;
  while (end + 1 < model_.rows() && model_.wraps(end)) ++end;
  for (int row = brow; row <= end; ++row) {
    const int from = row == brow ? bcol : 0;
    const int to = std::max(from, model_.content_end(row));
    r.text += model_.text(row, from, to);
    if (model_.has_replacement(row, from, to)) {
      r.error = "the line holds bytes that are not UTF-8; the bastion cannot read it";
      return r;
    }
    if (row < end) r.text += model_.wraps(row) ? "" : "\n";
    if (r.text.size() > kLineMax) {
      r.error = "the line is too long to decide (over " + std::to_string(kLineMax) + " bytes)";
      return r;
    }
  }
  r.text = rtrim(std::move(r.text));
  return r;
}

GateResult ShellLineTracker::submit(const std::string& text, ShellLine facts) {
  CommandRequest req = gate_.request("shell_line", text);
  req.facts = std::make_shared<ShellLineFacts>(std::move(facts));
  return gate_.submit(req);
}

void ShellLineTracker::end_open_row() {
  if (open_row_ > 0) gate_.command_ended(open_row_, CommandOutcome{});
  open_row_ = 0;
}

void ShellLineTracker::end_refused(int64_t row) {
  CommandOutcome o;
  o.error = "denied";
  if (row > 0) gate_.command_ended(row, o);
}

void ShellLineTracker::set_running(const std::string& text, int64_t row) {
  open_row_ = row;
  if (running_) return;  // a nested line: the program it runs in is still the one that runs
  running_ = true;
  running_text_ = text;
  running_program_ = program_of(text);
  running_prompt_ = line_.prompt;
  fullscreen_asked_ = fullscreen_allowed_ = fullscreen_free_ = false;
}

void ShellLineTracker::decide() {
  // A full-screen program the policy let run: its keys are not shell lines.
  if (fullscreen_free_ && model_.in_altscreen() && !prompt_back()) return release_held(0);
  // Enter on an empty line: nothing to run, unless a clear failed and
  // the shell may still hold a denied line: then that is read and decided.
  if (!line_.started && !dirty_) {
    if (!fragments_.empty()) fragments_ += "\n";
    return release_held(0);
  }
  if (!line_.started) line_.started = line_.stale = true;
  dirty_ = false;
  ShellLine f = facts_base();
  std::string refusal;
  Region reg;
  if (size_refused_)
    refusal = "the terminal is outside " + std::to_string(ScreenModel::kMinCols) + "x1 to " +
              std::to_string(ScreenModel::kMaxCols) + "x" + std::to_string(ScreenModel::kMaxRows) +
              "; lines cannot be read: resize the window";
  else
    reg = read_region(), refusal = reg.error;
  if (refusal.empty() && fragments_.size() + reg.text.size() > kJoinedMax)
    refusal = "the continued line is too long to decide";
  if (!refusal.empty()) {
    end_open_row();
    CommandRequest req = gate_.request("shell_line", reg.text);
    req.facts = std::make_shared<ShellLineFacts>(f);
    const GateResult g = gate_.refuse(req, refusal);
    end_refused(g.command_id);
    return deny("bastion: denied: " + refusal);
  }
  f.prompt_known = reg.prompt_known;
  std::string text = reg.text;
  if (text.empty() && line_.keys == 0) return release_held(0);  // the shell's line was empty after all
  if (text.empty()) {
    // Keys that changed nothing on screen: typed with echo off (a password).
    f.hidden = true;
    f.hidden_chars = line_.printable;
    f.prompt_known = true;
  }
  // Typed with plain keys only: the shell holds exactly what they make.
  // When the screen shows more in front of it (keys typed before the first
  // prompt were echoed early, then redrawn after it), that is decided. When
  // it shows something else, another program drew it (a background job
  // repainting the prompt row); which of the two the shell holds cannot be
  // told from the screen: refuse, and say so. Nested lines too (a prompt can
  // be faked); a password prompt echoing '*' (sudo's pwfeedback) is refused
  // the same way: fail closed.
  if (!f.hidden && line_.keys > 0 && line_.shadow_ok) {
    const std::string want = rtrim(line_.shadow), got = rtrim(text);
    if (got != want) {
      if (!want.empty() && got.size() > want.size() && got.compare(got.size() - want.size(), want.size(), want) == 0) {
        text = want;
        f.prompt_known = false;
      } else {
        end_open_row();
        CommandRequest req = gate_.request("shell_line", text);
        req.facts = std::make_shared<ShellLineFacts>(f);
        const std::string why =
            "the line on the screen is not the line that was typed (another program wrote over it): "
            "press Ctrl-C and type it again";
        const GateResult g = gate_.refuse(req, why);
        end_refused(g.command_id);
        return deny("bastion: denied: " + why);
      }
    }
  }
  struct Ask {
    std::string text;
    ShellLine facts;
  };
  std::vector<Ask> asks;
  // Lines pasted after this one (several Enters at once, no bracketed
  // paste): all are decided before any of them goes on.
  std::size_t paste_bytes = 0;
  if (!f.hidden) {
    std::size_t seg = 0;
    for (std::size_t i = 0; i < queue_.size(); ++i) {
      const auto c = static_cast<unsigned char>(queue_[i]);
      if (is_submitter(c)) {
        if (i > seg) {
          ShellLine pf = facts_base();
          pf.source = "typed";
          pf.prompt.clear();
          pf.pasted = true;
          asks.push_back({queue_.substr(seg, i - seg), pf});
        }
        paste_bytes = seg = i + 1;
        continue;
      }
      // Keys the shell edits with (Tab, arrows, Ctrl-U): what follows is
      // read off the screen as typed, each line at its own Enter.
      if (c < 0x20 || c >= 0x7f || i - seg > kLineMax) break;
    }
    if (!asks.empty()) f.pasted = true;
  }
  const std::string joined = fragments_ + text;
  const bool complete = f.hidden || shell_text_complete(joined);  // else the shell asks for more (PS2)
  asks.insert(asks.begin(), Ask{text, f});
  if (!f.hidden && !fragments_.empty() && complete) {
    ShellLine jf = f;
    jf.continued = true;
    asks.insert(asks.begin() + 1, Ask{joined, jf});
  }
  end_open_row();
  std::vector<int64_t> allowed;
  for (std::size_t k = 0; k < asks.size(); ++k) {
    const GateResult g = submit(asks[k].text, asks[k].facts);
    if (g.decision.allowed()) {
      allowed.push_back(g.command_id);
      continue;
    }
    if (g.review_id > 0 && asks.size() == 1) {
      review_.emplace(gate_, g);
      review_text_ = asks[0].text;
      phase_ = Phase::review;
      return;
    }
    std::string why = g.refusal.empty() ? g.decision.reason : g.refusal;
    if (g.review_id > 0) {
      gate_.cancel_review(g.review_id);
      why = "approval required; a pasted or continued line cannot wait for a review: type it on its own";
    }
    end_refused(g.command_id);
    for (const int64_t id : allowed) gate_.command_ended(id, CommandOutcome{});
    std::string msg = "bastion: denied: " + why;
    if (asks[k].facts.pasted) msg += " (pasted line: " + asks[k].text + "); nothing was run";
    return deny(msg);
  }
  for (std::size_t k = 0; k + 1 < allowed.size(); ++k) gate_.command_ended(allowed[k], CommandOutcome{});
  fragments_ = complete ? "" : joined + "\n";
  if (complete) set_running(asks.back().text, allowed.back());
  else open_row_ = allowed.back();  // a fragment: the shell waits for the rest (PS2)
  release_held(paste_bytes);
}

void ShellLineTracker::release_held(std::size_t queued_bytes) {
  std::string rest = queue_.substr(std::min(queued_bytes, queue_.size()));
  const std::string head = queue_.substr(0, std::min(queued_bytes, queue_.size()));
  queue_.clear();
  phase_ = Phase::idle;
  forward(held_);
  held_ = 0;
  for (const char b : head) forward(b);
  line_ = Line{};
  consume(rest);
}

void ShellLineTracker::poll_review() {
  auto res = review_->poll();
  if (!res) return;
  review_.reset();
  if (res->decision.allowed()) {
    set_running(review_text_, res->command_id);
    return release_held(0);
  }
  end_refused(res->command_id);
  deny("bastion: denied: " + (res->refusal.empty() ? res->decision.reason : res->refusal));
}

void ShellLineTracker::ctrl_c() {
  if (phase_ == Phase::review) {
    review_->cancel();
    const auto res = review_->poll();
    review_.reset();
    if (res) end_refused(res->command_id);
    to_client_ += "\r\nbastion: approval request cancelled; nothing was run\r\n";
  }
  if (phase_ != Phase::clearing) phase_ = Phase::idle;
  held_ = 0;
  queue_.clear();
  fragments_.clear();
  in_paste_ = false;
  esc_ = 0;
  forward('\x03');
  if (phase_ == Phase::idle) line_ = Line{};
}

void ShellLineTracker::deny(const std::string& message) {
  phase_ = Phase::clearing;
  clear_message_ = message;
  clear_started_ = clock_();
  held_ = 0;
  // End of line, kill line: clears the buffer in bash, zsh, busybox sh and
  // a cooked-mode tty (dash). Safety never depends on it: the Enter was not sent.
  forward('\x05');
  forward('\x15');
}

void ShellLineTracker::finish_clear() {
  // Text left (a vi-mode line editor ignores Ctrl-E Ctrl-U): Ctrl-C
  // discards the line, and the next Enter reads the screen even if no key
  // was typed.
  if (!rtrim(read_region().text).empty()) {
    dirty_ = true;
    forward('\x03');
  }
  // The redraw of the cleared line was withheld: the user sees the reason,
  // then the prompt row as the shell now has it, cursor where the shell's is.
  const ScreenPos cur = model_.cursor();
  std::string repaint = rtrim(model_.text(cur.row, 0, model_.content_end(cur.row))) + "\x1b[K\r";
  if (cur.col > 0) repaint += "\x1b[" + std::to_string(cur.col) + "C";
  to_client_ += "\r\n" + display_escape(clear_message_) + "\r\n" + repaint;
  phase_ = Phase::idle;
  line_ = Line{};
  // Keys typed after the denied Enter were typed before the user saw the
  // denial (the rest of a paste, `rm -rf *` after a denied `cd`): dropped.
  queue_.clear();
}

std::string ShellLineTracker::take_to_target(std::size_t max) {
  std::string out = to_target_.substr(0, max);
  to_target_.erase(0, out.size());
  return out;
}

std::string ShellLineTracker::take_to_client() {
  std::string out;
  out.swap(to_client_);
  return out;
}

std::size_t ShellLineTracker::input_room() const {
  const std::size_t used = phase_ == Phase::idle ? to_target_.size() : queue_.size();
  return used >= kQueueMax ? 0 : kQueueMax - used;
}

std::optional<int> ShellLineTracker::wants_wakeup_ms() const {
  switch (phase_) {
    case Phase::pending: return 2;
    case Phase::clearing: return 5;
    case Phase::review: return 100;
    case Phase::idle: break;
  }
  return std::nullopt;
}

void ShellLineTracker::end() {
  if (review_) review_->withdraw();
  review_.reset();
  end_open_row();
}

}  // namespace bastion
