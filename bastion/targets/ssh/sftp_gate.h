// An sftp channel on an ssh target, decided one file operation at a time.
// It wraps the channel's SshExecutor and reads the SFTP v3 packets it
// relays: every OPEN (reads too, so each file read is on record), REMOVE,
// RENAME, MKDIR, RMDIR, SETSTAT, FSETSTAT, SYMLINK and the extended
// requests that change files (posix-rename, hardlink, lsetstat, copy-data)
// go through the CommandGate (c.kind "sftp") before they are forwarded.
// Lookups (stat, realpath, readdir, ...) and reads and writes on handles it
// saw opened pass; unknown extended requests are refused. A refused request
// is never forwarded: the client gets STATUS PERMISSION_DENIED with the
// reason, at a packet boundary of the target's replies, and the session
// goes on. Each open file's audit row ends when it is closed (or the
// channel ends), with the bytes written (bytes_in) and read (bytes_out).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>

#include "policy/command_gate.h"
#include "targets/ssh/sftp_facts.h"
#include "targets/ssh/sftp_packets.h"
#include "targets/target.h"

namespace bastion {

class SftpGate : public Executor {
 public:
  // What one channel can make the bastion hold; past any of them the
  // channel ends with a message.
  static constexpr std::size_t kMaxHandles = 4096;
  static constexpr std::size_t kMaxPending = 65536;
  static constexpr std::size_t kMaxHeldPathBytes = 16u << 20;
  // The bastion's own replies waiting for the client: past this the gate
  // takes no more input until the client reads them (refused requests
  // never use the target's window, so that cannot push back).
  static constexpr std::size_t kMaxAnswerBytes = 256 * 1024;

  // `gate` is the channel's; without one every request is refused.
  SftpGate(std::unique_ptr<Executor> inner, CommandGate* gate);
  ~SftpGate() override;
  SftpGate(const SftpGate&) = delete;
  SftpGate& operator=(const SftpGate&) = delete;

  std::size_t input_capacity() override;
  bool write_input(std::string_view data) override;
  void send_eof() override;
  void window_change(int cols, int rows) override { inner_->window_change(cols, rows); }
  void send_signal(const std::string& name) override { inner_->send_signal(name); }
  void set_output_wanted(bool wanted) override { inner_->set_output_wanted(wanted); }
  bool pump_output(OutputWriter& out, std::size_t budget) override;
  ExitInfo exit_info() const override;
  bool changed_since_pump() const override { return inner_->changed_since_pump(); }
  void close() override;

 private:
  struct OpenFile {
    std::string path;
    int64_t row = 0;  // 0: a directory (OPENDIR is not decided)
    bool closing = false;
    uint64_t written = 0, read = 0;
  };
  // A forwarded request whose reply the gate accounts for.
  struct Pending {
    uint8_t type = 0;
    int64_t row = 0;     // a decided request's audit row
    std::string handle;  // CLOSE READ WRITE
    std::string path;    // OPEN OPENDIR: the handle's path
    uint64_t length = 0; // WRITE
  };

  // Handles the client's complete packets while there is room for answers.
  void process();
  bool answers_full() const { return to_client_.size() + notices_.size() >= kMaxAnswerBytes; }
  void on_request(std::string_view packet);
  void on_extended(std::string_view packet, const sftp::Request& q);
  void on_reply(std::string_view packet);
  // Decides `op` for request `id`: true to forward (row: its audit row);
  // false: refused, the client is answered.
  bool decide(uint32_t id, const SftpOp& op, int64_t& row);
  void forward(std::string_view packet, uint32_t id, Pending p);
  // Answers request `id` in the bastion's name (never forwarded).
  void answer(uint32_t id, uint32_t code, const std::string& message);
  OpenFile* usable(const std::string& handle);
  void end_row(int64_t row, std::optional<int> status, const std::string& error, uint64_t in = 0, uint64_t out = 0);
  void end_rows(const std::string& why);
  void flush();
  void fail(const std::string& why);

  std::unique_ptr<Executor> inner_;
  CommandGate* gate_;
  sftp::Framer from_client_, from_target_;
  std::string to_target_;  // decided packets, waiting for the target's window
  std::string to_client_;  // the bastion's own replies, sent at the next packet boundary
  std::string notices_;    // stderr lines for the user (OpenSSH's sftp shows no STATUS text)
  std::unordered_map<uint32_t, Pending> pending_;
  std::unordered_map<std::string, OpenFile> handles_;
  std::size_t held_path_bytes_ = 0;
  bool init_seen_ = false, version_seen_ = false;
  bool eof_wanted_ = false, eof_sent_ = false;
  std::string fatal_;
  bool fatal_told_ = false;
};

}  // namespace bastion
