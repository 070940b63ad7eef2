#include "targets/ssh/sftp_gate.h"

#include <algorithm>
#include <set>
#include <utility>

#include "common/display_escape.h"

namespace bastion {
namespace {

using namespace sftp;

constexpr int kExitBastionError = 255;  // as bastiond(8) documents for the bastion's own errors

// Captures what the inner executor writes, to frame it before the client sees it.
struct Capture : OutputWriter {
  std::string out, err;
  void write(Stream s, std::string data) override {
    std::string& to = s == Stream::err ? err : out;
    if (to.empty()) to = std::move(data);
    else to += data;
  }
};

std::vector<std::string> open_mode(uint32_t pflags) {
  std::vector<std::string> m;
  if (pflags & kFxfRead) m.push_back("read");
  if (pflags & kFxfWrite) m.push_back("write");
  if (pflags & kFxfAppend) m.push_back("append");
  if (pflags & kFxfCreat) m.push_back("create");
  if (pflags & kFxfTrunc) m.push_back("truncate");
  if (pflags & kFxfExcl) m.push_back("exclusive");
  return m;
}

// Extended requests of OpenSSH 9.2's sftp-server that change nothing.
bool harmless_extended(const std::string& name) {
  static const std::set<std::string> names = {
      "statvfs@openssh.com", "fstatvfs@openssh.com", "limits@openssh.com",          "expand-path@openssh.com",
      "home-directory",      "fsync@openssh.com",    "users-groups-by-id@openssh.com"};
  return names.count(name) > 0;
}

}  // namespace

SftpGate::SftpGate(std::unique_ptr<Executor> inner, CommandGate* gate) : inner_(std::move(inner)), gate_(gate) {
  if (!gate_) fatal_ = "no policy gate for this channel";
}

SftpGate::~SftpGate() { close(); }

std::size_t SftpGate::input_capacity() {
  if (!fatal_.empty() || eof_wanted_ || answers_full()) return 0;
  flush();
  if (!fatal_.empty()) return 0;
  // Decided bytes wait for the target's window, so the window still pushes
  // back on the client; what is held is at most one packet more.
  const std::size_t cap = inner_->input_capacity();
  return cap > to_target_.size() ? cap - to_target_.size() : 0;
}

bool SftpGate::write_input(std::string_view data) {
  if (!fatal_.empty()) return true;  // the channel is ending; nothing more goes on
  from_client_.feed(data);
  process();
  flush();
  return true;
}

void SftpGate::process() {
  std::string_view packet;
  while (fatal_.empty() && !answers_full()) {
    const Framer::Next n = from_client_.next(packet);
    if (n == Framer::Next::need_more) break;
    if (n == Framer::Next::error) return fail("the client sent " + from_client_.error());
    on_request(packet);
  }
}

void SftpGate::send_eof() {
  eof_wanted_ = true;
  flush();
}

void SftpGate::flush() {
  if (!fatal_.empty()) return;
  if (!to_target_.empty()) {
    const std::size_t n = std::min(inner_->input_capacity(), to_target_.size());
    if (n > 0) {
      if (!inner_->write_input(std::string_view(to_target_).substr(0, n))) return fail("cannot write to the target");
      to_target_.erase(0, n);
    }
  }
  // A request cut short by the client's EOF is never forwarded.
  if (to_target_.empty() && eof_wanted_ && !eof_sent_) {
    inner_->send_eof();
    eof_sent_ = true;
  }
}

void SftpGate::on_request(std::string_view packet) {
  Request q;
  std::string err;
  if (!decode_request(packet.substr(4), q, err)) return fail("the client sent a malformed request: " + err);
  if (q.type == kInit) {
    if (init_seen_) return fail("the client sent a second INIT");
    init_seen_ = true;
    to_target_.append(packet);
    return;
  }
  // Requests are read as version 3: none goes on before the target said it speaks it.
  if (!version_seen_) return fail("the client sent a request before the version exchange");
  if (pending_.count(q.id)) return fail("the client reused request id " + std::to_string(q.id) + " before its reply");
  if (pending_.size() >= kMaxPending)
    return fail("more than " + std::to_string(kMaxPending) + " requests in flight");
  int64_t row = 0;
  switch (q.type) {
    case kOpen:
      if (!decide(q.id, {.op = "open", .path = q.path, .target = "", .mode = open_mode(q.pflags),
                         .attrs = q.attrs.facts()}, row))
        return;
      return forward(packet, q.id, {.type = kOpen, .row = row, .handle = "", .path = q.path, .length = 0});
    case kOpendir: return forward(packet, q.id, {.type = kOpendir, .row = 0, .handle = "", .path = q.path, .length = 0});
    case kClose:
    case kRead:
    case kWrite: {
      OpenFile* f = usable(q.handle);
      if (!f) return answer(q.id, kFailure, "bastion: unknown handle");
      if (q.type == kClose) f->closing = true;
      return forward(packet, q.id, {.type = q.type, .row = 0, .handle = q.handle, .path = "", .length = q.length});
    }
    case kFsetstat: {
      const OpenFile* f = usable(q.handle);
      if (!f) return answer(q.id, kFailure, "bastion: unknown handle");
      if (!decide(q.id, {.op = "fsetstat", .path = f->path, .target = "", .mode = {}, .attrs = q.attrs.facts()}, row))
        return;
      break;
    }
    case kSetstat:
      if (!decide(q.id, {.op = "setstat", .path = q.path, .target = "", .mode = {}, .attrs = q.attrs.facts()}, row))
        return;
      break;
    case kMkdir:
      if (!decide(q.id, {.op = "mkdir", .path = q.path, .target = "", .mode = {}, .attrs = q.attrs.facts()}, row))
        return;
      break;
    case kRemove:
    case kRmdir:
      if (!decide(q.id, {.op = q.type == kRemove ? "remove" : "rmdir", .path = q.path, .target = "", .mode = {}, .attrs = {}},
                  row))
        return;
      break;
    case kRename:
      if (!decide(q.id, {.op = "rename", .path = q.path, .target = q.path2, .mode = {}, .attrs = {}}, row)) return;
      break;
    case kSymlink:
      // OpenSSH's order (PROTOCOL §"Reversal of arguments to SSH_FXP_SYMLINK"):
      // what the link points to, then the link made.
      if (!decide(q.id, {.op = "symlink", .path = q.path, .target = q.path2, .mode = {}, .attrs = {}}, row)) return;
      break;
    case kExtended: return on_extended(packet, q);
    case kLstat:
    case kFstat:
    case kReaddir:
    case kRealpath:
    case kStat:
    case kReadlink: break;
    default: return answer(q.id, kOpUnsupported, "bastion: request type " + std::to_string(q.type) + " is not supported");
  }
  forward(packet, q.id, {.type = q.type, .row = row, .handle = "", .path = "", .length = 0});
}

void SftpGate::on_extended(std::string_view packet, const Request& q) {
  const std::string& n = q.extended;
  if (harmless_extended(n)) return forward(packet, q.id, {.type = kExtended, .row = 0, .handle = "", .path = "", .length = 0});
  SftpOp op;
  if (n == "posix-rename@openssh.com" || n == "hardlink@openssh.com") {
    op = {.op = n == "hardlink@openssh.com" ? "hardlink" : "posix-rename", .path = q.path, .target = q.path2, .mode = {},
          .attrs = {}};
  } else if (n == "lsetstat@openssh.com") {
    op = {.op = "lsetstat", .path = q.path, .target = "", .mode = {}, .attrs = q.attrs.facts()};
  } else if (n == "copy-data") {
    const OpenFile* from = usable(q.handle);
    const OpenFile* to = usable(q.handle2);
    if (!from || !to) return answer(q.id, kFailure, "bastion: unknown handle");
    op = {.op = "copy-data", .path = from->path, .target = to->path, .mode = {}, .attrs = {}};
  } else {
    // Whatever it does, nobody decided it: on record, and refused.
    op = {.op = "extended", .path = n, .target = "", .mode = {}, .attrs = {}};
    CommandRequest req = gate_->request("sftp", sftp_text(op));
    req.facts = std::make_shared<SftpFacts>(op);
    const std::string why = "the extended request " + n + " is not supported through the bastion";
    const GateResult g = gate_->refuse(req, why);
    end_row(g.command_id, kOpUnsupported, "refused");
    return answer(q.id, kOpUnsupported, display_escape("bastion: " + why));
  }
  int64_t row = 0;
  if (!decide(q.id, op, row)) return;
  forward(packet, q.id, {.type = kExtended, .row = row, .handle = "", .path = "", .length = 0});
}

bool SftpGate::decide(uint32_t id, const SftpOp& op, int64_t& row) {
  CommandRequest req = gate_->request("sftp", sftp_text(op));
  req.facts = std::make_shared<SftpFacts>(op);
  // Never held: nobody could see a status line (a review is a refusal).
  const GateResult g = gate_->submit_request(req);
  row = g.command_id;
  std::string why;
  if (!g.decision.allowed()) why = g.refusal.empty() ? "denied" : g.refusal;
  else if (g.decision.verdict == Decision::Verdict::mask) why = "output masking cannot apply to file transfers";
  if (why.empty()) return true;
  end_row(row, kPermissionDenied, "denied: " + why);
  notices_ += "bastion: denied: " + display_escape(req.text) + ": " + display_escape(why) + "\n";
  answer(id, kPermissionDenied, display_escape("bastion: denied: " + why));
  return false;
}

void SftpGate::forward(std::string_view packet, uint32_t id, Pending p) {
  held_path_bytes_ += p.path.size();
  if (held_path_bytes_ > kMaxHeldPathBytes) {
    end_row(p.row, std::nullopt, "not forwarded: too many paths held");
    return fail("more than " + std::to_string(kMaxHeldPathBytes >> 20) + " MiB of paths in flight");
  }
  pending_.emplace(id, std::move(p));
  to_target_.append(packet);
}

void SftpGate::answer(uint32_t id, uint32_t code, const std::string& message) {
  to_client_ += encode_status(id, code, message);
}

SftpGate::OpenFile* SftpGate::usable(const std::string& handle) {
  const auto it = handles_.find(handle);
  return it == handles_.end() || it->second.closing ? nullptr : &it->second;
}

void SftpGate::end_row(int64_t row, std::optional<int> status, const std::string& error, uint64_t in, uint64_t out) {
  if (row <= 0 || !gate_) return;
  CommandOutcome o;
  o.status = status;
  o.error = error;
  o.bytes_in = in;
  o.bytes_out = out;
  gate_->request_ended(row, o);
}

bool SftpGate::pump_output(OutputWriter& out, std::size_t budget) {
  // The bastion's answers go first; then the packets they held up are handled.
  std::string emit = std::exchange(to_client_, {});
  std::string notices = std::exchange(notices_, {});
  process();
  emit += std::exchange(to_client_, {});
  notices += std::exchange(notices_, {});
  flush();
  Capture cap;
  const bool alive = fatal_.empty() && inner_->pump_output(cap, budget);
  if (!cap.out.empty() && fatal_.empty()) {
    from_target_.feed(cap.out);
    std::string_view packet;
    while (fatal_.empty()) {
      const Framer::Next n = from_target_.next(packet);
      if (n == Framer::Next::need_more) break;
      if (n == Framer::Next::error) {
        fail("the target sent " + from_target_.error());
        break;
      }
      on_reply(packet);
      // Whole packets only: the bastion's replies go in between them.
      if (fatal_.empty()) emit.append(packet);
    }
  }
  if (!cap.err.empty()) out.write(Stream::err, std::move(cap.err));
  if (!notices.empty()) out.write(Stream::err, std::move(notices));
  if (!emit.empty()) out.write(Stream::out, std::move(emit));
  if (!fatal_.empty()) {
    if (!fatal_told_) out.write(Stream::err, "bastion: sftp: " + display_escape(fatal_) + "; the channel is closed\n");
    fatal_told_ = true;
    return false;
  }
  if (!alive) {
    // The target ended: a reply it cut short is relayed as it came.
    if (from_target_.held() > 0) out.write(Stream::out, from_target_.take_rest());
    end_rows("the channel ended");
  }
  return alive;
}

void SftpGate::on_reply(std::string_view packet) {
  Reply p;
  std::string err;
  if (!decode_reply(packet.substr(4), p, err)) return fail("the target sent a malformed reply: " + err);
  if (p.type == kVersion) {
    if (p.id != 3)
      return fail("the target speaks SFTP version " + std::to_string(p.id) + "; the bastion reads version 3 only");
    version_seen_ = true;
    return;
  }
  const auto it = pending_.find(p.id);
  if (it == pending_.end()) return;  // nothing the gate accounts for
  Pending q = std::move(it->second);
  pending_.erase(it);
  held_path_bytes_ -= q.path.size();
  const int status = p.type == kStatus ? static_cast<int>(p.status) : static_cast<int>(kFailure);
  const std::string error = status == kOk ? "" : p.message.empty() ? "status " + std::to_string(status) : p.message;
  switch (q.type) {
    case kOpen:
    case kOpendir: {
      if (p.type != kHandle) return end_row(q.row, status, error);
      if (handles_.size() >= kMaxHandles) {
        end_row(q.row, std::nullopt, "more than " + std::to_string(kMaxHandles) + " open files");
        return fail("more than " + std::to_string(kMaxHandles) + " open files");
      }
      held_path_bytes_ += q.path.size();
      OpenFile& f = handles_[p.handle];
      // A handle the server hands out again was closed: its row is over.
      end_row(f.row, std::nullopt, "handle reused", f.written, f.read);
      held_path_bytes_ -= f.path.size();
      f = OpenFile{.path = std::move(q.path), .row = q.row, .closing = false, .written = 0, .read = 0};
      return;
    }
    case kClose: {
      const auto h = handles_.find(q.handle);
      if (h == handles_.end()) return;
      // The handle is gone whatever the status (sftp-server frees it first).
      end_row(h->second.row, status, error, h->second.written, h->second.read);
      held_path_bytes_ -= h->second.path.size();
      handles_.erase(h);
      return;
    }
    case kRead: {
      const auto h = handles_.find(q.handle);
      if (h != handles_.end() && p.type == kData) h->second.read += p.data_len;
      return;
    }
    case kWrite: {
      const auto h = handles_.find(q.handle);
      if (h != handles_.end() && status == kOk) h->second.written += q.length;
      return;
    }
    default: return end_row(q.row, status, error);
  }
}

void SftpGate::end_rows(const std::string& why) {
  for (const auto& [_, q] : pending_)
    if (q.type != kClose) end_row(q.row, std::nullopt, why);
  for (const auto& [_, f] : handles_) end_row(f.row, std::nullopt, why, f.written, f.read);
  pending_.clear();
  handles_.clear();
  held_path_bytes_ = 0;
}

void SftpGate::fail(const std::string& why) {
  if (!fatal_.empty()) return;
  fatal_ = why;
  to_target_.clear();
  if (gate_) {
    // On record: why the bastion ended the transfer.
    const GateResult g = gate_->refuse(gate_->request("sftp", "(channel ended by the bastion)"), why);
    end_row(g.command_id, kExitBastionError, why);
  }
  end_rows("the channel was ended: " + why);
  inner_->close();
}

ExitInfo SftpGate::exit_info() const {
  if (fatal_.empty()) return inner_->exit_info();
  ExitInfo e;
  e.status = kExitBastionError;
  return e;
}

void SftpGate::close() {
  end_rows("the channel ended");
  inner_->close();
}

}  // namespace bastion
