#include "approvals/approvals_executor.h"

#include "common/display_escape.h"
#include "policy/shell_words.h"
#include "sources/terminal_text.h"

namespace bastion {

ApprovalsExecutor::ApprovalsExecutor(std::string which, const ExecRequest& req,
                                     std::unique_ptr<ApprovalCommands> commands)
    : which_(std::move(which)), commands_(std::move(commands)), pty_(req.pty.has_value()) {
  console_ = req.kind != "exec" || req.text.find_first_not_of(" \t") == std::string::npos;
  if (!console_) command_ = req.text;
}

void ApprovalsExecutor::emit(OutputPipeline& out, Stream s, std::string text) {
  if (text.empty()) return;
  if (pty_) {
    text = crlf(text);  // stderr shares the terminal
    s = Stream::out;
  }
  out.write(s, std::move(text));
}

bool ApprovalsExecutor::write_input(std::string_view data) {
  if (console_) in_.append(data);
  return true;
}

void ApprovalsExecutor::run_line(const std::string& line, OutputPipeline& out) {
  const ShellParse sp = parse_shell(line);
  std::string o, e;
  int rc;
  if (!sp.error.empty() || sp.parts.size() > 1) {
    e = "cannot read this command line" + (sp.error.empty() ? std::string() : ": " + display_escape(sp.error)) + "\n";
    rc = 2;
  } else {
    rc = commands_->run(which_, sp.parts.empty() ? std::vector<std::string>{} : sp.parts[0].argv, o, e);
  }
  emit(out, Stream::out, o);
  emit(out, Stream::err, e);
  exit_.status = rc;
}

bool ApprovalsExecutor::pump_output(OutputPipeline& out, std::size_t) {
  if (finished_) return false;
  if (!console_) {
    run_line(command_, out);
    finished_ = true;
    return false;
  }
  const std::string prompt = which_ + "> ";
  if (pty_) {
    if (!prompt_shown_) {
      std::string o;
      editor_.begin(prompt, o);
      out.write(Stream::out, o);
      prompt_shown_ = true;
    }
    while (!in_.empty() && !finished_) {
      std::string o;
      std::vector<LineEditor::Event> events;
      const std::size_t used = editor_.feed(in_, o, events);
      in_.erase(0, used);
      if (!o.empty()) out.write(Stream::out, o);
      for (const auto& ev : events) {
        if (ev.kind == LineEditor::Event::Kind::eof) {
          finished_ = true;
          exit_.status = 0;
          return false;
        }
        if (ev.kind == LineEditor::Event::Kind::line) {
          const auto b = ev.text.find_first_not_of(" \t");
          if (b != std::string::npos && (ev.text.substr(b) == "exit" || ev.text.substr(b) == "quit")) {
            finished_ = true;
            exit_.status = 0;
            return false;
          }
          editor_.add_history(ev.text);
          if (b != std::string::npos) run_line(ev.text, out);
        }
        std::string p;
        editor_.begin(prompt, p);
        out.write(Stream::out, p);
      }
      if (used == 0) break;
    }
    return true;
  }
  // Script: one command per line.
  std::size_t nl;
  while ((nl = in_.find('\n')) != std::string::npos) {
    const std::string line = in_.substr(0, nl);
    in_.erase(0, nl + 1);
    if (line.find_first_not_of(" \t\r") != std::string::npos) run_line(line, out);
  }
  if (eof_) {
    if (in_.find_first_not_of(" \t\r\n") != std::string::npos) run_line(in_, out);
    in_.clear();
    finished_ = true;
    return false;
  }
  return true;
}

}  // namespace bastion
