#include "targets/kubectl/kube_tunnel_executor.h"

#include "targets/kubectl/kube_request_gate.h"

namespace bastion {
namespace {
constexpr std::size_t kMaxPending = 256 * 1024;  // what the client may have in flight towards the proxy
}

KubeTunnelExecutor::KubeTunnelExecutor(int fd, KubeDecisionQueue& queue, CommandGate& gate, Watch watch)
    : proxy_(fd, kMaxPending, std::move(watch)), queue_(queue), gate_(gate) {
  set_output_wanted(true);
}

KubeTunnelExecutor::~KubeTunnelExecutor() { close(); }

std::size_t KubeTunnelExecutor::input_capacity() { return proxy_.capacity(); }

bool KubeTunnelExecutor::write_input(std::string_view data) { return proxy_.write(data); }

void KubeTunnelExecutor::send_eof() { proxy_.send_eof(); }

void KubeTunnelExecutor::set_output_wanted(bool wanted) { proxy_.set_output_wanted(wanted); }

bool KubeTunnelExecutor::pump_output(OutputWriter& out, std::size_t budget) {
  serve_kube_requests(queue_, gate_, "", false);
  proxy_.flush();
  if (!proxy_.is_open()) return false;
  const auto r = proxy_.read(budget, [&](std::string_view b) { out.write(Stream::out, std::string(b)); });
  if (r != WorkerSocket::Read::closed) return true;
  exit_.status = 0;  // the proxy finished with this connection
  return false;
}

void KubeTunnelExecutor::close() { proxy_.close(); }

}  // namespace bastion
