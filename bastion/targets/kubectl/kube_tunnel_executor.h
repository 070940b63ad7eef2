// A tunnel channel of a kubectl target (`ssh -L 6443:TARGET:443`): the
// user's own kubectl speaks TLS to the bastion's API proxy through it. The
// bytes are relayed between the SSH channel and one end of a socketpair the
// proxy serves; every API request in them is read, decided (the queue is
// served here, through the channel's gate) and masked by the proxy, so the
// bytes themselves pass no filter and are not recorded: TLS records mean
// nothing to a terminal, and the audit has each request.
#pragma once
#include <functional>
#include <string>

#include "policy/command_gate.h"
#include "targets/kubectl/kube_decision_queue.h"
#include "targets/target.h"
#include "targets/worker_socket.h"

namespace bastion {

class KubeTunnelExecutor : public Executor {
 public:
  using Watch = WorkerSocket::Watch;
  // `fd`: this end of the socketpair (owned from now on).
  KubeTunnelExecutor(int fd, KubeDecisionQueue& queue, CommandGate& gate, Watch watch);
  ~KubeTunnelExecutor() override;

  std::size_t input_capacity() override;
  bool write_input(std::string_view data) override;
  void send_eof() override;
  void window_change(int, int) override {}
  void send_signal(const std::string&) override {}
  void set_output_wanted(bool wanted) override;
  bool pump_output(OutputWriter& out, std::size_t budget) override;
  ExitInfo exit_info() const override { return exit_; }
  void close() override;

 private:
  WorkerSocket proxy_;  // client bytes the proxy has not taken yet wait here
  KubeDecisionQueue& queue_;
  CommandGate& gate_;
  ExitInfo exit_;
};

}  // namespace bastion
