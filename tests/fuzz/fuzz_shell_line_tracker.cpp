// Fuzzes the pty shell line tracker with interleaved client keys, target
// output, time and steps, against a gate that denies every line.
// Property (the one that matters): no key that submits a typed line (CR,
// LF, Ctrl-O, Ctrl-D) reaches the target unless an allowing decision
// covered it. With every line denied, a submitter may only follow an empty
// line: nothing forwarded since the last submitter, Ctrl-C or the
// bastion's Ctrl-E Ctrl-U clear. Target output never enables bracketed
// paste here (that mode lets CR through as text, by design).
#include <cstdint>
#include <string>
#include <string_view>

#include "policy/command_gate.h"
#include "sources/shell_line_tracker.h"

namespace {

class DenyAllGate : public bastion::CommandGate {
 public:
  bastion::GateResult submit(const bastion::CommandRequest&) override { return denied(); }
  bastion::GateResult refuse(const bastion::CommandRequest&, const std::string&) override { return denied(); }
  std::optional<bastion::GateResult> poll_review(int64_t) override { return denied(); }
  void cancel_review(int64_t) override {}
  bastion::GateResult submit_request(const bastion::CommandRequest&) override { return denied(); }
  void request_ended(int64_t, const bastion::CommandOutcome&) override {}
  void command_ended(int64_t, const bastion::CommandOutcome&) override {}
  bastion::CommandRequest request(const std::string& kind, const std::string& text) const override {
    bastion::CommandRequest r;
    r.kind = kind;
    r.text = text;
    return r;
  }
  const std::string& mask_key() const override { return key_; }

 private:
  static bastion::GateResult denied() {
    bastion::GateResult g;
    g.command_id = 1;
    g.decision = bastion::Decision::deny("no");
    g.refusal = "no";
    return g;
  }
  std::string key_ = "k";
};

// Checks the bytes the target received, in order.
struct Checker {
  std::size_t since_reset = 0;
  char prev = 0;
  void take(const std::string& bytes) {
    for (const char b : bytes) {
      const auto c = static_cast<unsigned char>(b);
      if (c == '\r' || c == '\n' || c == 0x0f || c == 0x04) {
        if (since_reset > 0) __builtin_trap();
      } else if (c == 0x03 || (c == 0x15 && prev == 0x05)) {
        since_reset = 0;
      } else {
        ++since_reset;
      }
      prev = b;
    }
  }
};

std::string without_paste_mode(std::string s) {
  for (std::size_t p; (p = s.find("2004")) != std::string::npos;) s[p] = 'x';
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  DenyAllGate gate;
  double now = 0;
  bastion::ShellLineTracker t(gate, 40, 10, [&] { return now; });
  Checker check;
  std::size_t i = 0;
  while (i < size) {
    const uint8_t op = data[i++];
    const std::size_t n = std::min<std::size_t>((op >> 2) % 24 + 1, size - i);
    const std::string chunk(reinterpret_cast<const char*>(data + i), n);
    switch (op & 3) {
      case 0: t.client_input(chunk), i += n; break;
      case 1: (void)t.target_output(without_paste_mode(chunk)), i += n; break;
      case 2: now += (op >> 2) * 0.002; break;
      default: t.step(); break;
    }
    check.take(t.take_to_target(1 << 20));
    (void)t.take_to_client();
  }
  now += 10;
  t.step();
  check.take(t.take_to_target(1 << 20));
  t.end();
  return 0;
}
