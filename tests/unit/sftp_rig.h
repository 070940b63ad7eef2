// What the SftpGate tests (unit and fuzz) drive it with: a packet builder,
// a fake target channel (window, what it was sent, what it answers) and a
// gate that decides by text and logs every call.
#pragma once
#include <algorithm>
#include <cstdint>
#include <limits>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "policy/command_gate.h"
#include "targets/ssh/sftp_facts.h"
#include "targets/target.h"

namespace bastion::test {

// One SFTP packet, built field by field; packet() adds the length.
struct Pkt {
  std::string b;
  Pkt& u8(uint8_t v) {
    b += static_cast<char>(v);
    return *this;
  }
  Pkt& u32(uint32_t v) {
    for (int s = 24; s >= 0; s -= 8) b += static_cast<char>((v >> s) & 0xff);
    return *this;
  }
  Pkt& u64(uint64_t v) {
    u32(static_cast<uint32_t>(v >> 32));
    return u32(static_cast<uint32_t>(v));
  }
  Pkt& str(std::string_view s) {
    u32(static_cast<uint32_t>(s.size()));
    b.append(s);
    return *this;
  }
  std::string packet() const { return Pkt().u32(static_cast<uint32_t>(b.size())).b + b; }
};

// The upstream channel: takes input up to `window`, answers with `reply`.
struct FakeChannel : Executor {
  std::size_t window = std::numeric_limits<std::size_t>::max();
  std::string sent, reply, reply_err;
  bool alive = true, eof = false, closed = false;
  std::size_t input_capacity() override { return closed || eof ? 0 : window; }
  bool write_input(std::string_view d) override {
    if (d.size() > input_capacity()) return false;
    sent.append(d);
    if (window != std::numeric_limits<std::size_t>::max()) window -= d.size();
    return true;
  }
  void send_eof() override { eof = true; }
  void window_change(int, int) override {}
  void send_signal(const std::string&) override {}
  bool pump_output(OutputWriter& out, std::size_t budget) override {
    if (closed) return false;
    const std::size_t n = std::min(budget, reply.size());
    if (n) out.write(Stream::out, reply.substr(0, n));
    reply.erase(0, n);
    if (!reply_err.empty()) out.write(Stream::err, std::exchange(reply_err, {}));
    return alive || !reply.empty();
  }
  ExitInfo exit_info() const override {
    ExitInfo e;
    e.status = 0;
    return e;
  }
  void close() override { closed = true; }
};

// Decides by audit text (deny: the texts in `deny`; review: `review`) and
// logs: "request TEXT", "refuse TEXT: WHY", "ended ROW status=S in=I out=O error=E".
struct RecordingGate : CommandGate {
  std::set<std::string> deny, review;
  std::vector<std::string> calls;
  std::vector<SftpOp> ops;  // the facts of each request, in order
  int64_t last = 0;

  GateResult submit(const CommandRequest& r) override { return submit_request(r); }
  GateResult refuse(const CommandRequest& r, const std::string& why) override {
    calls.push_back("refuse " + r.text + ": " + why);
    GateResult g;
    g.command_id = ++last;
    g.decision = Decision::deny(why);
    g.refusal = why;
    return g;
  }
  std::optional<GateResult> poll_review(int64_t) override { return std::nullopt; }
  void cancel_review(int64_t) override {}
  GateResult submit_request(const CommandRequest& r) override {
    calls.push_back("request " + r.text);
    if (const auto* f = dynamic_cast<const SftpFacts*>(r.facts.get())) ops.push_back(f->op);
    GateResult g;
    g.command_id = ++last;
    if (deny.count(r.text)) {
      g.decision = Decision::deny("no " + r.text);
      g.refusal = g.decision.reason;
    } else if (review.count(r.text)) {
      g.decision = Decision::deny("ask");
      g.decision.verdict = Decision::Verdict::review;
      g.refusal = "approval required: ask";
    } else {
      g.decision = Decision::allow();
    }
    return g;
  }
  void request_ended(int64_t id, const CommandOutcome& o) override {
    calls.push_back("ended " + std::to_string(id) + " status=" + (o.status ? std::to_string(*o.status) : "-") +
                    " in=" + std::to_string(o.bytes_in) + " out=" + std::to_string(o.bytes_out) +
                    (o.error.empty() ? "" : " error=" + o.error));
  }
  void command_ended(int64_t, const CommandOutcome&) override {}
  CommandRequest request(const std::string& kind, const std::string& text) const override {
    CommandRequest r;
    r.kind = kind;
    r.text = text;
    return r;
  }
  const std::string& mask_key() const override { return key; }
  std::string key = "k";
};

// Collects what the gate writes towards the client.
struct Collect : OutputWriter {
  std::string out, err;
  void write(Stream s, std::string d) override { (s == Stream::err ? err : out) += d; }
};

}  // namespace bastion::test
