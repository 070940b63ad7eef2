// A channel of an HTTP target, on the session thread: relays bytes between
// the SSH channel and its connection's socketpair end, decides the
// requests the connection's worker asks about through the channel's
// CommandGate (a review holds the request: the client waits), finishes
// their audit rows and writes one recording line per request. In a tunnel
// the response bytes are protocol (Stream::wire: not filtered, not
// recorded; the worker masked text responses) and the summaries go to the
// recording only (Stream::record); in the exec form (`GET /path`) the body
// is the command's output (Stream::out: masked, recorded) and the exit
// status says whether the response was a success.
#pragma once
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "policy/command_gate.h"
#include "sources/held_command.h"
#include "targets/http/http_channel_link.h"
#include "targets/http/http_connection.h"
#include "targets/target.h"
#include "targets/worker_socket.h"

namespace bastion {

class HttpTunnelExecutor : public Executor {
 public:
  // Which poll events on `fd` wake the session loop (0: none). `wake`: an
  // eventfd the loop clears when it fires.
  using Watch = std::function<void(int fd, short events, bool wake)>;
  // `fd`: this end of the socketpair (owned from now on). `exec_request`:
  // the exec form's request bytes (the client's input is then ignored).
  HttpTunnelExecutor(int fd, std::unique_ptr<HttpConnection> conn, std::shared_ptr<HttpChannelLink> link,
                     CommandGate& gate, Watch watch, std::optional<std::string> exec_request);
  ~HttpTunnelExecutor() override;

  std::size_t input_capacity() override;
  bool write_input(std::string_view data) override;
  void send_eof() override;
  void window_change(int, int) override {}
  void send_signal(const std::string&) override {}
  void set_output_wanted(bool wanted) override;
  bool pump_output(OutputWriter& out, std::size_t budget) override;
  std::optional<int> wants_wakeup_ms() const override {
    return held_ ? std::optional<int>(kExecutorPollMs) : std::nullopt;
  }
  ExitInfo exit_info() const override { return exit_; }
  void close() override;

 private:
  void serve_decisions(OutputWriter& out);
  void answer(const GateResult& g, const HttpFacts& f, OutputWriter& out);
  void finish_rows(OutputWriter& out);

  std::shared_ptr<HttpChannelLink> link_;
  std::unique_ptr<HttpConnection> conn_;
  CommandGate& gate_;
  Watch watch_;  // the link's wake-up eventfd (the socket watches its own)
  WorkerSocket worker_;
  const bool exec_;
  struct Held {
    HeldCommand review;
    HttpFacts facts;
  };
  std::optional<Held> held_;
  int exec_status_ = 1;  // exec form: 0 once a response was a success
  ExitInfo exit_;
};

}  // namespace bastion
