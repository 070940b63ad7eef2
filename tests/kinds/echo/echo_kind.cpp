#include "echo_kind.h"

#include <algorithm>
#include <cctype>
#include <sstream>

#include <nlohmann/json.hpp>

#include "policy/command_gate.h"

namespace bastion::testkind {
namespace {

struct EchoSettings : TargetSettings {
  std::string greeting;
  bool shout = false;
};

struct EchoCredential : HeldCredential {
  std::string token;
};

struct EchoFacts : CommandFacts {
  std::vector<std::string> words;
  bool loud = false;
  const char* field() const override { return "echo"; }
  void describe(FactWriter& out) const override {
    out.list("words", words);
    out.flag("loud", loud);
  }
  std::string audit_details() const override { return nlohmann::json{{"words", words}}.dump(); }
};

std::shared_ptr<const EchoFacts> parse(const std::string& text, bool loud) {
  auto f = std::make_shared<EchoFacts>();
  std::istringstream in(text);
  for (std::string w; in >> w;) f->words.push_back(w);
  f->loud = loud;
  return f;
}

CommandOutcome outcome(int status) {
  CommandOutcome o;
  o.status = status;
  return o;
}

// Runs one exec command: decided through the gate, then answered. Output
// goes through the channel's pipeline like any target's.
class EchoExecutor : public Executor {
 public:
  EchoExecutor(const EchoSettings& s, const ExecRequest& req, CommandGate& gate) {
    CommandRequest r = gate.request("echo", req.text);
    r.facts = parse(req.text, s.shout);
    const GateResult g = gate.submit(r);
    if (!g.decision.allowed()) {
      err_ = "echo: refused: " + g.refusal + "\n";
      exit_.status = 126;
      gate.command_ended(g.command_id, outcome(126));
      return;
    }
    std::string text = req.text;
    if (s.shout) std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::toupper(c); });
    out_ = s.greeting + ": " + text + "\n";
    exit_.status = 0;
    gate_ = &gate;
    command_id_ = g.command_id;
  }
  std::size_t input_capacity() override { return 1 << 16; }
  bool write_input(std::string_view) override { return true; }
  void send_eof() override {}
  void window_change(int, int) override {}
  void send_signal(const std::string&) override {}
  bool pump_output(OutputWriter& out, std::size_t) override {
    if (!out_.empty()) out.write(Stream::out, std::exchange(out_, {}));
    if (!err_.empty()) out.write(Stream::err, std::exchange(err_, {}));
    if (gate_) gate_->command_ended(command_id_, outcome(0)), gate_ = nullptr;
    return false;
  }
  ExitInfo exit_info() const override { return exit_; }
  void close() override {}

 private:
  std::string out_, err_;
  ExitInfo exit_;
  CommandGate* gate_ = nullptr;
  int64_t command_id_ = 0;
};

class EchoConnection : public TargetConnection {
 public:
  explicit EchoConnection(const EchoSettings& s) : settings_(s) {}
  std::unique_ptr<Executor> start(const ExecRequest& req, std::string& error) override {
    if (req.kind != ChannelKind::exec) return error = "echo targets take one command: ssh TARGET@bastion WORDS", nullptr;
    if (!req.gate) return error = "internal error: no command gate", nullptr;
    return std::make_unique<EchoExecutor>(settings_, req, *req.gate);
  }
  void attach(ssh_event) override {}
  void detach() override {}
  bool connected() const override { return true; }

 private:
  EchoSettings settings_;
};

}  // namespace

std::shared_ptr<const TargetSettings> EchoKind::read_settings(const TableReader& r) const {
  auto s = std::make_shared<EchoSettings>();
  s->greeting = r.need("greeting");
  s->shout = r.boolean("shout").value_or(false);
  return s;
}

std::shared_ptr<const HeldCredential> EchoKind::read_credential(const TableReader& r, const TargetSettings&, bool,
                                                                bool) const {
  auto c = std::make_shared<EchoCredential>();
  c->token = r.need("token");
  return c;
}

void EchoKind::check_files(const TargetConfig& t, std::vector<std::string>& problems) const {
  for (const auto& [name, cred] : t.credentials)
    if (kind_part<EchoCredential>(cred.get()).token == "weak")
      problems.push_back("targets." + t.name + ": credential " + name + " has a weak token");
}

std::unique_ptr<TargetConnection> EchoKind::connect(const TargetConfig& t, const HeldCredential& cred,
                                                    std::string& error) const {
  if (kind_part<EchoCredential>(&cred).token.empty()) return error = "no token", nullptr;
  return std::make_unique<EchoConnection>(kind_part<EchoSettings>(t.settings.get()));
}

ParsedCommand EchoKind::parse_command(const std::string&, const std::string& text, const CommandOptions& options) const {
  const auto loud = options.find("loud");
  return ParsedCommand{.text = text, .facts = parse(text, loud != options.end() && loud->second == "true")};
}

TargetKinds kinds_with_echo() {
  TargetKinds kinds = builtin_target_kinds();
  kinds.add(std::make_unique<EchoKind>());  // the one registration line
  return kinds;
}

}  // namespace bastion::testkind
