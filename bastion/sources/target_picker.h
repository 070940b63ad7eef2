// The interactive target picker `ssh -t bastion` offers when the login name
// is no target: type to filter, arrows move, Enter chooses, Ctrl-C / Esc /
// q (on an empty filter) quits. A pure state machine: bytes typed on the
// user's pty in, the screen to draw out; it knows no SSH and no policy (the
// caller gives it only targets the identity may use and re-checks the one
// chosen).
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace bastion {

class TargetPicker {
 public:
  explicit TargetPicker(std::vector<std::string> targets, int rows = 24);

  // Keys as typed (several per call, as a pty delivers them). An escape
  // sequence is expected whole in one call; a lone ESC at the end of a call
  // is the Esc key. Ignored once done().
  void feed(std::string_view keys);
  void resize(int rows);
  // The whole screen, redrawn (CR LF line ends, cursor home and clear first).
  std::string screen() const;

  bool done() const { return chosen_.has_value() || quit_; }
  bool quit() const { return quit_; }
  const std::optional<std::string>& chosen() const { return chosen_; }
  const std::vector<std::string>& matches() const { return matches_; }
  const std::string& filter() const { return filter_; }
  std::size_t selected() const { return selected_; }

 private:
  void refilter();
  void move(int delta);

  std::vector<std::string> targets_;
  std::vector<std::string> matches_;
  std::string filter_;
  std::size_t selected_ = 0;
  int rows_;
  std::optional<std::string> chosen_;
  bool quit_ = false;
};

}  // namespace bastion
