// Fuzzes SftpGate with both directions of an sftp channel interleaved
// (client bytes, target bytes, window changes, EOF), after a real version
// exchange. Invariants:
//  * every request that changes files and reaches the target was allowed
//    by a decision, in order, for that operation and path; unknown
//    extended requests and unknown types never reach it;
//  * what reaches the target and what reaches the client are whole
//    packets; the client gets the target's packets whole and in order,
//    with only the bastion's own STATUS replies in between.
#include <cstdint>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include "../unit/sftp_rig.h"
#include "targets/ssh/sftp_gate.h"
#include "targets/ssh/sftp_packets.h"

using namespace bastion;
using namespace bastion::sftp;

namespace {

struct FuzzGate : test::RecordingGate {
  std::vector<SftpOp> allowed;
  GateResult submit_request(const CommandRequest& r) override {
    if (r.text.size() % 2) deny.insert(r.text);  // about half are refused
    GateResult g = RecordingGate::submit_request(r);
    if (g.decision.allowed()) allowed.push_back(ops.back());
    return g;
  }
};

std::vector<std::string> frame_all(const std::string& s, bool& whole) {
  Framer f;
  f.feed(s);
  std::vector<std::string> out;
  std::string_view p;
  Framer::Next n;
  while ((n = f.next(p)) == Framer::Next::packet) out.emplace_back(p);
  whole = n != Framer::Next::error && f.held() == 0;
  return out;
}

const char* op_of(const Request& q) {
  switch (q.type) {
    case kOpen: return "open";
    case kSetstat: return "setstat";
    case kFsetstat: return "fsetstat";
    case kRemove: return "remove";
    case kMkdir: return "mkdir";
    case kRmdir: return "rmdir";
    case kRename: return "rename";
    case kSymlink: return "symlink";
    case kExtended:
      if (q.extended == "posix-rename@openssh.com") return "posix-rename";
      if (q.extended == "hardlink@openssh.com") return "hardlink";
      if (q.extended == "lsetstat@openssh.com") return "lsetstat";
      if (q.extended == "copy-data") return "copy-data";
      return nullptr;
    default: return nullptr;
  }
}

void check_forwarded(const std::string& sent, const std::vector<SftpOp>& allowed, bool must_be_whole) {
  static const std::set<uint8_t> relayed = {kInit, kClose, kRead, kWrite, kLstat, kFstat, kOpendir, kReaddir, kRealpath,
                                            kStat, kReadlink};
  static const std::set<std::string> harmless = {"statvfs@openssh.com", "fstatvfs@openssh.com", "limits@openssh.com",
                                                 "expand-path@openssh.com", "home-directory", "fsync@openssh.com",
                                                 "users-groups-by-id@openssh.com"};
  bool whole = false;
  const auto packets = frame_all(sent, whole);
  if (!whole && must_be_whole) __builtin_trap();
  std::size_t k = 0;
  for (const auto& p : packets) {
    Request q;
    std::string err;
    if (!decode_request(std::string_view(p).substr(4), q, err)) __builtin_trap();  // only decoded requests go on
    if (const char* op = op_of(q)) {
      if (k >= allowed.size() || allowed[k].op != op) __builtin_trap();
      const bool by_path = q.type != kFsetstat && !(q.type == kExtended && q.extended == "copy-data");
      if (by_path && allowed[k].path != q.path) __builtin_trap();
      ++k;
    } else if (q.type == kExtended) {
      if (!harmless.count(q.extended)) __builtin_trap();
    } else if (!relayed.count(q.type)) {
      __builtin_trap();
    }
  }
}

void check_client_stream(const std::string& target, const std::string& client) {
  bool whole_t = false, whole_c = false;
  const auto t = frame_all(target, whole_t);
  const auto c = frame_all(client, whole_c);
  if (!whole_c) __builtin_trap();
  std::size_t j = 0;
  for (const auto& p : c) {
    if (j < t.size() && p == t[j]) {
      ++j;
      continue;
    }
    Reply r;
    std::string err;
    if (!decode_reply(std::string_view(p).substr(4), r, err) || r.type != kStatus || r.message.rfind("bastion: ", 0) != 0)
      __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzGate gate;
  auto ch = std::make_unique<test::FakeChannel>();
  test::FakeChannel* fc = ch.get();
  SftpGate g(std::move(ch), &gate);
  test::Collect out;
  const std::string init = test::Pkt().u8(kInit).u32(3).packet();
  const std::string version = test::Pkt().u8(kVersion).u32(3).packet();
  g.write_input(init);
  fc->reply = version;
  g.pump_output(out, 1 << 20);
  std::string target_stream = version;  // everything the target said
  bool alive = true;
  for (size_t i = 0; i + 2 <= size && alive;) {
    const uint8_t tag = data[i] % 6;
    const size_t len = std::min<size_t>(data[i + 1], size - i - 2);
    const std::string bytes(reinterpret_cast<const char*>(data) + i + 2, len);
    i += 2 + len;
    switch (tag) {
      case 0:
      case 4: {  // client bytes (4: as one packet, length added)
        const std::string in = tag == 4 ? test::Pkt().str(bytes).b : bytes;
        const size_t cap = g.input_capacity();
        g.write_input(std::string_view(in).substr(0, std::min(cap, in.size())));
        break;
      }
      case 1:
      case 5: {  // target bytes
        const std::string r = tag == 5 ? test::Pkt().str(bytes).b : bytes;
        fc->reply += r;
        target_stream += r;
        alive = g.pump_output(out, 1 << 20);
        break;
      }
      case 2: fc->window = len * 64; break;
      case 3: g.send_eof(); break;
    }
  }
  // The target's window opens: every decided byte goes on.
  fc->window = std::numeric_limits<std::size_t>::max();
  if (alive) g.pump_output(out, 1 << 20);
  // A channel the bastion ended may have cut a packet short; the target sees it end there.
  check_forwarded(fc->sent, gate.allowed, !fc->closed);
  check_client_stream(target_stream, out.out);
  return 0;
}
