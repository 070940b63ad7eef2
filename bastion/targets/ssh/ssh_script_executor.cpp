#include "targets/ssh/ssh_script_executor.h"

#include <algorithm>
#include <array>

#include "common/time_util.h"
#include "policy/shell_parse.h"

namespace bastion {
namespace {

constexpr double kHoldRelease = 0.05;  // seconds of quiet before a held tail is shown

// Passes output through a filter on its way to the next writer.
class FilteredWriter : public OutputWriter {
 public:
  FilteredWriter(OutputFilter& f, OutputWriter& next) : f_(f), next_(next) {}
  void write(Stream s, std::string data) override {
    wrote = true;
    f_.filter(s, data);
    if (!data.empty()) next_.write(s, std::move(data));
  }
  bool wrote = false;

 private:
  OutputFilter& f_;
  OutputWriter& next_;
};

bool is_shell_name(std::string_view w) {
  for (std::string_view dir : {"/bin/", "/usr/bin/", "/usr/local/bin/"})
    if (w.starts_with(dir)) w.remove_prefix(dir.size());
  // Shells whose grammar is bash's or a subset of it (dash). Not zsh or ksh:
  // their lines are judged with bash's grammar, and zsh's
  // "${(e):-\$(rm -rf D)}" is a quoted string to it but runs rm in zsh.
  static constexpr std::array<std::string_view, 3> shells = {"bash", "sh", "dash"};
  return std::find(shells.begin(), shells.end(), w) != shells.end();
}

// Options that leave a shell reading its commands from stdin the way the
// parser reads them: clusters of -s -l -e -x, --noprofile, --norc, and
// -o/+o with a name below. Not -i: an interactive shell expands prompts
// (PROMPT_COMMAND, PS0), history (histchars) and its rc file's aliases,
// none of which the bastion sees; nor -o history/histexpand, for the same
// history expansion.
bool stdin_shell_options(const std::vector<std::string>& argv, std::size_t from) {
  // (Not allexport: every allowed assignment would reach the programs' environment.)
  static constexpr std::array<std::string_view, 10> set_names = {
      "errexit", "nounset", "xtrace", "verbose", "pipefail", "posix", "noclobber", "noglob", "noexec", "errtrace"};
  for (std::size_t i = from; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    if (a == "--noprofile" || a == "--norc") continue;
    if (a == "-o" || a == "+o") {
      if (++i >= argv.size() || std::find(set_names.begin(), set_names.end(), argv[i]) == set_names.end())
        return false;
      continue;
    }
    if (a.size() < 2 || a[0] != '-' || a.find_first_not_of("slex", 1) != std::string::npos) return false;
  }
  return true;
}

}  // namespace

bool decides_stdin_lines(const ExecRequest& req) {
  if (req.pty) return false;
  if (req.kind == ChannelKind::shell) return true;
  if (req.kind != ChannelKind::exec) return false;
  const ShellParse p = parse_command(req.text);
  // One simple command and nothing else: no operator, redirect, expansion.
  if (!p.error.empty() || p.parts.size() != 1) return false;
  const SimpleCommand& c = p.parts[0];
  if (c.depth != 0 || !c.redirects.empty() || !c.opaque.empty() || c.piped_in || p.words.size() != c.argv.size() ||
      c.argv.empty() || std::any_of(c.word_flags.begin(), c.word_flags.end(), [](unsigned f) { return f != 0; }))
    return false;
  if (c.argv[0] == "busybox") return c.argv.size() >= 2 && c.argv[1] == "sh" && stdin_shell_options(c.argv, 2);
  return is_shell_name(c.argv[0]) && stdin_shell_options(c.argv, 1);
}

SshScriptExecutor::SshScriptExecutor(std::unique_ptr<SshExecutor> inner, CommandGate& gate)
    : inner_(std::move(inner)), stdin_(*inner_), script_(gate, stdin_) {}

SshScriptExecutor::~SshScriptExecutor() { close(); }

bool SshScriptExecutor::write_input(std::string_view data) {
  script_.write_input(data);
  return true;
}

bool SshScriptExecutor::pump_output(OutputWriter& out, std::size_t budget) {
  script_.step(out);
  if (pump_masked(out, budget)) return true;
  // The shell exited: its status is the last command's, so the last unit's row gets it.
  script_.end(inner_->exit_info().status);
  return false;
}

bool SshScriptExecutor::pump_masked(OutputWriter& out, std::size_t budget) {
  // New patterns are in place before any output of the line they came with
  // is read: that line was sent on in this pump's step().
  if (script_.masks().size() != mask_rules_) {
    release_masked(out);
    masks_ = std::make_unique<MaskingFilter>(script_.masks());
    mask_rules_ = script_.masks().size();
  }
  if (!masks_) return inner_->pump_output(out, budget);
  FilteredWriter through(*masks_, out);
  const bool alive = inner_->pump_output(through, budget);
  const double now = monotonic_seconds();
  if (through.wrote) last_output_ = now;
  else if (masks_->holding() && now - last_output_ >= kHoldRelease) release_masked(out);
  if (!alive) release_masked(out);
  return alive;
}

void SshScriptExecutor::release_masked(OutputWriter& out) {
  if (!masks_) return;
  for (Stream s : {Stream::out, Stream::err}) {
    std::string tail;
    masks_->flush(s, tail);
    if (!tail.empty()) out.write(s, std::move(tail));
  }
}

ExitInfo SshScriptExecutor::exit_info() const {
  ExitInfo e = inner_->exit_info();
  if (script_.stopped()) {  // whatever the shell said: the script did not run whole
    e.status = kScriptExitDenied;
    e.signal.clear();
    e.lost = false;
  }
  return e;
}

void SshScriptExecutor::close() {
  script_.end(std::nullopt);
  inner_->close();
}

}  // namespace bastion
